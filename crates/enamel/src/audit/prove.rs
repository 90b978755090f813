//! Proving one entry to an auditor: its inclusion in a signed checkpoint, and that checkpoint's consistency with a later one.

use anyhow::{Context as _, bail};
use enamel_audit::checkpoint::Checkpoint;
use enamel_audit::entry::{Scope, hex};
use enamel_audit::merkle::{self, Hash};

pub(super) fn prove(
    scope: &Scope,
    leaves: &[Hash],
    checkpoints: &[Checkpoint],
    index: Option<u64>,
    consistency: Option<&[u64]>,
) -> anyhow::Result<()> {
    let find = |size: u64| {
        checkpoints
            .iter()
            .find(|c| c.tree_size == size)
            .with_context(|| format!("no checkpoint at size {size}"))
    };
    let root_of = |c: &Checkpoint| c.root_hash().context("malformed checkpoint root");
    let hexes = |proof: &[Hash]| proof.iter().map(|h| hex(h)).collect::<Vec<_>>();
    if let Some(index) = index {
        let latest = checkpoints
            .last()
            .context("the log has no checkpoint yet: run `enamel audit checkpoint`")?;
        let size = usize::try_from(latest.tree_size)?;
        if leaves.len() < size || index >= latest.tree_size {
            bail!(
                "entry {index} is not in the latest checkpoint (size {})",
                latest.tree_size
            );
        }
        let proof = merkle::inclusion_proof(index, &leaves[..size]);
        let leaf = leaves[usize::try_from(index)?];
        let verified =
            merkle::verify_inclusion(&leaf, index, latest.tree_size, &proof, &root_of(latest)?);
        let output = serde_json::json!({
            "scope": scope.key(), "kind": "inclusion", "index": index, "leaf_hash": hex(&leaf),
            "tree_size": latest.tree_size, "root": latest.root, "checkpoint": latest,
            "proof": hexes(&proof), "verified": verified,
        });
        println!("{}", serde_json::to_string_pretty(&output)?);
        if !verified {
            bail!("the inclusion proof does not verify against the signed checkpoint");
        }
    } else if let Some([a, b]) = consistency {
        let (old, new) = (find(*a)?, find(*b)?);
        let size = usize::try_from(*b)?;
        if leaves.len() < size {
            bail!("the log holds fewer than {b} entries");
        }
        let proof = merkle::consistency_proof(*a, &leaves[..size]);
        let verified = merkle::verify_consistency(*a, *b, &root_of(old)?, &root_of(new)?, &proof);
        let output = serde_json::json!({
            "scope": scope.key(), "kind": "consistency", "old": old, "new": new,
            "proof": hexes(&proof), "verified": verified,
        });
        println!("{}", serde_json::to_string_pretty(&output)?);
        if !verified {
            bail!(
                "the consistency proof does not verify: the later checkpoint does not extend the earlier one"
            );
        }
    } else {
        bail!("give --index N or --consistency A B");
    }
    Ok(())
}
