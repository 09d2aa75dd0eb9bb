//! The command line's grammar for oversight after the fact: break-glass uses and the reviews
//! they owe, and access review campaigns. Split from `args` only to keep files small.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum BreakGlassCommand {
    /// Activate a role at once, for your session, under a break_glass policy entry.
    Use {
        /// The policy entry's name.
        #[arg(long)]
        entry: String,
        /// The role.
        #[arg(long)]
        role: String,
        /// The scope.
        #[arg(long)]
        scope: String,
        /// The incident reference.
        #[arg(long, default_value = "")]
        incident: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        /// How long (default: the entry's longest window).
        #[arg(long)]
        duration: Option<String>,
    },
    /// List uses, newest first: yours, those you review, or all (admins and auditors). Exits 1
    /// when one listed is overdue for review.
    List {
        /// The unreviewed uses you may review.
        #[arg(long, conflicts_with = "all")]
        to_review: bool,
        /// Every use.
        #[arg(long)]
        all: bool,
    },
    /// A use with its evidence: every Check its grant allowed, every write meanwhile.
    Show {
        /// The use's id.
        id: String,
    },
    /// Confirm or flag a use (its reviewers; never its user).
    Review {
        /// The use's id.
        id: String,
        /// The use was justified.
        #[arg(long)]
        confirm: bool,
        /// The use needs looking into (an alert).
        #[arg(long)]
        flag: bool,
        /// Why (required with --flag).
        #[arg(long, default_value = "")]
        comment: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReviewsCommand {
    /// Start a campaign from a definition in the policy's reviews.campaigns (admins).
    Start {
        /// The definition's name.
        name: String,
    },
    /// List campaigns with their progress (admins and auditors).
    List,
    /// List your open review items, or a whole campaign's (admins and auditors).
    Items {
        /// A campaign's id.
        #[arg(long)]
        campaign: Option<String>,
    },
    /// Keep or remove the access an item is about.
    Decide {
        /// The item's id.
        item_id: String,
        /// keep or remove.
        verdict: String,
        /// Why (required to remove).
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Write a campaign's signed evidence: JSON and CSV (admins and auditors).
    Export {
        /// The campaign's id.
        campaign_id: String,
        /// Where to write the signed JSON document.
        #[arg(long)]
        json: PathBuf,
        /// Where to write the CSV.
        #[arg(long)]
        csv: PathBuf,
    },
}
