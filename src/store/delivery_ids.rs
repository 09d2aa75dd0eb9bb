//! Webhook delivery ids for the in-memory store, unique across restarts.

/// Webhook delivery ids for a store whose outbox dies with the process. PostgreSQL numbers
/// deliveries with a sequence that outlives restarts; here the outbox index alone would start
/// at 0 again after every restart, and a receiver deduplicating on `X-Elevator-Delivery` would
/// drop the new deliveries. So an id is a random, nonzero 31-bit epoch drawn when the store is
/// made, shifted above the 32-bit outbox index: still a positive decimal integer, like
/// PostgreSQL's, and two starts share an epoch with odds of 1 in 2^31.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeliveryIds {
    epoch: i64,
}

impl DeliveryIds {
    const INDEX_BITS: u32 = 32;

    pub(crate) fn random() -> Self {
        let epoch = (rand::random::<u32>() >> 1).max(1);
        DeliveryIds {
            epoch: i64::from(epoch) << Self::INDEX_BITS,
        }
    }

    /// The id of the outbox row at `index` (below 2^32: a dev-mode outbox never holds four
    /// billion deliveries).
    pub(crate) fn id(self, index: usize) -> i64 {
        self.epoch | index as i64
    }

    /// The outbox index of `id`, if this store handed it out.
    pub(crate) fn index(self, id: i64) -> Option<usize> {
        let low = (1_i64 << Self::INDEX_BITS) - 1;
        (id & !low == self.epoch).then_some((id & low) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::DeliveryIds;

    #[test]
    fn an_id_leads_back_to_its_index_only_in_the_store_that_made_it() {
        let ours = DeliveryIds { epoch: 7 << 32 };
        let theirs = DeliveryIds { epoch: 8 << 32 };
        assert_eq!(ours.id(0), 7 << 32);
        assert_eq!(ours.index(ours.id(41)), Some(41));
        assert_eq!(theirs.index(ours.id(41)), None);
        assert_eq!(ours.index(41), None);
        assert!(DeliveryIds::random().id(u32::MAX as usize) > 0);
    }
}
