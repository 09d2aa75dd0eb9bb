//! A campaign's result as signed evidence: a JSON document (the campaign, every item with its
//! evidence and decision, the SHA-256 of the CSV rendering, and the signed audit chain head it
//! was taken at) signed with the audit chain's Ed25519 key, and the same items as CSV. Checking
//! one needs nothing but the document (and the CSV): [`ReviewEvidence::verify`]; that the chain
//! still passes through the head is the server's check (`elevator audit verify --evidence`).

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::audit::write_canonical;
use super::audit_log::Checkpoint;
use super::review::{Campaign, ReviewItem, Reviewer};

/// The format tag every evidence document carries (and its signature covers).
pub(crate) const EVIDENCE_FORMAT: &str = "elevator-review-evidence/v1";

/// A campaign's evidence, rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewEvidence {
    /// The signed JSON document.
    pub json: String,
    /// The items as CSV (its SHA-256 is in the signed document).
    pub csv: String,
}

/// What a valid evidence document says: the campaign and the signed chain head to check the
/// live chain against.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceCheck {
    /// The campaign's id.
    pub campaign_id: String,
    /// How many items it lists.
    pub items: usize,
    /// The chain head it was taken at, signed.
    pub head: Checkpoint,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

/// What the evidence signature covers: the format and the digest of the canonical body.
fn signed_message(body: &Value) -> String {
    let digest = Sha256::digest(canonical(body).as_bytes());
    format!("{EVIDENCE_FORMAT} sha256={}", hex(&digest))
}

fn head_json(head: &Checkpoint) -> Value {
    json!({
        "seq": head.seq,
        "hash": hex(&head.hash),
        "revision": head.revision,
        "signed_at": head.signed_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "public_key": hex(&head.public_key),
        "signature": hex(&head.signature),
    })
}

fn head_from_json(value: &Value) -> Result<Checkpoint, String> {
    let text = |name: &str| {
        value[name]
            .as_str()
            .ok_or_else(|| format!("the evidence's head has no {name}"))
    };
    let bytes = |name: &str| unhex(text(name)?).ok_or_else(|| format!("head.{name} is not hex"));
    let number = |name: &str| {
        value[name]
            .as_u64()
            .ok_or_else(|| format!("head.{name} is not a number"))
    };
    let signed_at = DateTime::parse_from_rfc3339(text("signed_at")?)
        .map_err(|_| "head.signed_at is not an RFC 3339 time".to_owned())?
        .with_timezone(&Utc);
    Ok(Checkpoint {
        seq: number("seq")?,
        hash: bytes("hash")?
            .try_into()
            .map_err(|_| "head.hash is not 32 bytes".to_owned())?,
        revision: number("revision")?,
        signed_at,
        public_key: bytes("public_key")?
            .try_into()
            .map_err(|_| "head.public_key is not 32 bytes".to_owned())?,
        signature: bytes("signature")?,
    })
}

/// One CSV field, quoted when it needs to be; a leading `=`, `+`, `-` or `@` is prefixed with
/// a quote so that a spreadsheet shows it instead of running it.
fn csv_field(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// The items as CSV, one line each, in the order given.
pub(crate) fn items_csv(items: &[ReviewItem]) -> String {
    let mut out = String::from(
        "item_id,kind,subject,role,scope,grant_id,reviewers,evidence,deadline,verdict,decided_by,decided_at,by_default,outcome\n",
    );
    for item in items {
        let target = &item.target;
        let reviewers: Vec<String> = item.reviewers.iter().map(Reviewer::label).collect();
        let decision = item.decision.as_ref();
        let fields = [
            item.id.to_string(),
            target.kind.as_str().to_owned(),
            target.subject.to_string(),
            target.role.to_string(),
            target
                .scope
                .as_ref()
                .map_or_else(|| target.patterns.join(" "), ToString::to_string),
            target.grant_id.map(|id| id.to_string()).unwrap_or_default(),
            reviewers.join(" "),
            item.evidence.clone(),
            item.deadline.to_rfc3339(),
            decision
                .map_or("undecided", |d| d.verdict.as_str())
                .to_owned(),
            decision.map(|d| d.by.clone()).unwrap_or_default(),
            decision.map(|d| d.at.to_rfc3339()).unwrap_or_default(),
            decision.is_some_and(|d| d.by_default).to_string(),
            decision.and_then(|d| d.outcome.clone()).unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

impl ReviewEvidence {
    /// The evidence of `campaign` with `items`, taken at the signed chain `head`, signed by
    /// `sign` (the audit chain's key, whose public half the head names).
    pub fn build(
        campaign: &Campaign,
        items: &[ReviewItem],
        head: &Checkpoint,
        sign: impl Fn(&[u8]) -> Vec<u8>,
    ) -> ReviewEvidence {
        let csv = items_csv(items);
        let mut document = json!({
            "format": EVIDENCE_FORMAT,
            "campaign": campaign,
            "items": items,
            "csv_sha256": hex(&Sha256::digest(csv.as_bytes())),
            "head": head_json(head),
            "public_key": hex(&head.public_key),
        });
        let signature = sign(signed_message(&document).as_bytes());
        document["signature"] = Value::String(hex(&signature));
        ReviewEvidence {
            json: serde_json::to_string_pretty(&document).unwrap_or_default(),
            csv,
        }
    }

    /// Checks an evidence document (and its CSV, when given): the signature over everything
    /// else in it, made by the key its head names, and the CSV's digest. Says what is wrong.
    pub fn verify(json_text: &str, csv: Option<&str>) -> Result<EvidenceCheck, String> {
        let mut document: Value = serde_json::from_str(json_text)
            .map_err(|error| format!("the evidence is not JSON: {error}"))?;
        if document["format"] != EVIDENCE_FORMAT {
            return Err(format!("the evidence is not {EVIDENCE_FORMAT}"));
        }
        let signature = document
            .as_object_mut()
            .and_then(|fields| fields.remove("signature"))
            .and_then(|value| value.as_str().and_then(unhex))
            .ok_or("the evidence has no hex signature")?;
        let head = head_from_json(&document["head"])?;
        let public_key = document["public_key"]
            .as_str()
            .and_then(unhex)
            .ok_or("the evidence has no hex public_key")?;
        if public_key != head.public_key {
            return Err("the evidence was signed by another key than its audit head".into());
        }
        let key = VerifyingKey::from_bytes(&head.public_key)
            .map_err(|_| "the evidence's public key is not an Ed25519 key".to_owned())?;
        let signature = Signature::from_slice(&signature)
            .map_err(|_| "the evidence's signature is not an Ed25519 signature".to_owned())?;
        key.verify(signed_message(&document).as_bytes(), &signature)
            .map_err(|_| "the evidence's signature does not match its content: it was changed")?;
        if let Some(csv) = csv
            && document["csv_sha256"] != hex(&Sha256::digest(csv.as_bytes())).as_str()
        {
            return Err("the CSV does not match the evidence it came with: it was changed".into());
        }
        Ok(EvidenceCheck {
            campaign_id: document["campaign"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            items: document["items"].as_array().map_or(0, Vec::len),
            head,
        })
    }
}
