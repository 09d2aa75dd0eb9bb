//! An exclusive right between replicas (the sweep's), given back at once or when dropped.

/// How a lease is given back at once.
type Release = Box<dyn FnOnce() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>;

/// An exclusive right, held until [`Lease::release`]d or dropped. Dropping it gives it up too,
/// but possibly later (a PostgreSQL advisory lock goes when the server sees its connection
/// close), which is what a replica that dies relies on.
pub struct Lease {
    release: Option<Release>,
}

impl Lease {
    /// A lease kept alive by `holder`, given back when it is dropped.
    pub(crate) fn new(holder: impl Send + Sync + 'static) -> Self {
        Lease::releasing(move || {
            drop(holder);
            Box::pin(std::future::ready(()))
        })
    }

    /// A lease that `release` gives back; dropping the closure unreleased must give it up
    /// too (by dropping what it owns).
    pub(crate) fn releasing(
        release: impl FnOnce() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> Self {
        Lease {
            release: Some(Box::new(release)),
        }
    }

    /// Gives the lease back now, so the next holder need not wait.
    pub async fn release(mut self) {
        if let Some(release) = self.release.take() {
            release().await;
        }
    }
}
