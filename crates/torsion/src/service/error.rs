//! [`ServiceError`]: what can go wrong arranging and starting services.

use crate::Failure;
use crate::error::ReactorError;

/// Why a service could not be added, found, renamed or started.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A parent already has a child of this name (Twisted's
    /// `RuntimeError` from `addService`).
    #[error("a service named {0:?} is already a child of this service")]
    DuplicateName(String),
    /// The service already has a parent; it must be removed from it first.
    #[error("the service already has a parent")]
    AlreadyHasParent,
    /// [`MultiService::service_named`](super::MultiService::service_named)
    /// found no child of that name.
    #[error("no service named {0:?}")]
    NoSuchService(String),
    /// The service given to remove is not a child of this one.
    #[error("the service is not a child of this service")]
    NotAChild,
    /// A service's name cannot change while it has a parent, which files
    /// it under that name.
    #[error("a service's name cannot change while it has a parent")]
    RenamedWithParent,
    /// A service's start failed; the services started before it have been
    /// stopped again, in reverse order.
    #[error("service {service} failed to start: {reason}")]
    StartFailed {
        /// The name of the service that failed (`"(unnamed)"` when it has
        /// none).
        service: String,
        /// What its start returned.
        reason: Failure,
    },
    /// The reactor could not run the application.
    #[error("the reactor failed: {0}")]
    Reactor(#[from] ReactorError),
}

impl ServiceError {
    /// True for [`ServiceError::StartFailed`].
    pub fn is_start_failure(&self) -> bool {
        matches!(self, ServiceError::StartFailed { .. })
    }
}
