//! Which policy a lock runs, kept so that a fresh instance can be made at any time:
//! [`CustomPolicy`], a host's [`ReleasePolicy`] held as a pristine value, and the choice
//! between it and a built-in [`PolicyKind`]. Invariant: the pristine value is never used
//! to decide anything, only cloned, so a forked child (whose lock must not read state a
//! vanished thread may have been changing) starts from a policy in a known state.

use std::fmt;
use std::sync::Arc;

use super::policy::ReleasePolicy;
use super::policy_kind::PolicyKind;

/// A host's policy, ready to be installed in a lock ([`GilConfig::custom_policy`](super::GilConfig)):
/// the value given, cloned for the lock and again for each forked child.
#[derive(Clone)]
pub struct CustomPolicy {
    make: Arc<dyn Fn() -> Box<dyn ReleasePolicy> + Send + Sync>,
    name: Arc<str>,
}

impl CustomPolicy {
    /// Wrap `policy`; its [`ReleasePolicy::name`] is asked now.
    pub fn new<P: ReleasePolicy + Clone + Sync>(policy: P) -> CustomPolicy {
        let name = Arc::from(policy.name());
        CustomPolicy {
            make: Arc::new(move || Box::new(policy.clone())),
            name,
        }
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fresh clone of the value given.
    pub(super) fn instance(&self) -> Box<dyn ReleasePolicy> {
        (self.make)()
    }
}

impl fmt::Debug for CustomPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomPolicy({:?})", self.name)
    }
}

impl PartialEq for CustomPolicy {
    /// The same policy: one value, shared by clones of this handle.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.make, &other.make)
    }
}

impl Eq for CustomPolicy {}

/// A lock's policy: a host's if given, else the built-in kind.
pub(super) fn instance(kind: PolicyKind, custom: Option<&CustomPolicy>, seed: u64) -> Box<dyn ReleasePolicy> {
    match custom {
        Some(custom) => custom.instance(),
        None => kind.instance(seed),
    }
}
