"""Draws the soak's memory curve (benches/soak.sh --minutes N): live heap and resident memory
over time, from the CSV the soak test writes, to a small PNG for BENCHMARKS.md."""

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(source: str, target: str, minutes: str) -> None:
    seconds, resident, live = [], [], []
    with open(source, newline="") as samples:
        for row in csv.DictReader(samples):
            seconds.append(float(row["seconds"]) / 60.0)
            resident.append(float(row["resident_mib"]))
            live.append(float(row["live_mib"]))
    figure, axes = plt.subplots(figsize=(6.4, 3.2), dpi=100)
    axes.plot(seconds, resident, label="resident (VmRSS)", linewidth=1)
    axes.plot(seconds, live, label="live heap (counted)", linewidth=1)
    warm_up = max(seconds, default=0.0) / 5.0
    axes.axvline(warm_up, color="grey", linestyle=":", linewidth=1, label="end of warm-up")
    axes.set_xlabel("minutes")
    axes.set_ylabel("MiB")
    axes.set_ylim(bottom=0)
    axes.set_title(f"soak, {minutes} min: two replicas, restarts at 25%, 50%, 75%", fontsize=9)
    axes.legend(fontsize=8, loc="center right")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(target)


if __name__ == "__main__":
    main(*sys.argv[1:4])
