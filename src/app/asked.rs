//! One way to know an answer is current. Every AWS request is asked for a
//! view (the services shown, the deploy plan awaited, the bucket picker …);
//! asking again for a view makes the earlier request's answer late. The
//! answer comes back with its [`Ticket`] (the AWS connection, the view, the
//! request's number), and `update` keeps only the view's current one:
//! answers from before a switch (another connection) and answers overtaken
//! by a newer request are dropped in that one place.

use std::collections::HashMap;

use super::effect::LoadRequest;

/// What an answer fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    Clusters,
    /// A cluster's services: the listing and its refreshes.
    Services,
    Tasks,
    Metrics,
    Repositories,
    RegistryImages,
    /// The snapshots' listing and its refreshes.
    Snapshots,
    DeployPlan,
    RestorePreview,
    SyncPlan,
    RemotePreview,
    InitPlan,
    BucketPicker,
    ServicePicker,
    TagPicker,
    NewBucket,
}

impl LoadRequest {
    pub fn view(&self) -> View {
        match self {
            LoadRequest::Repositories => View::Repositories,
            LoadRequest::Images { .. } => View::RegistryImages,
            LoadRequest::Snapshots { .. } | LoadRequest::SnapshotsIfMoved { .. } => View::Snapshots,
            LoadRequest::Clusters => View::Clusters,
            LoadRequest::Services { .. } | LoadRequest::ServicesNamed { .. } => View::Services,
            LoadRequest::Tasks { .. } => View::Tasks,
            LoadRequest::Metrics { .. } => View::Metrics,
            LoadRequest::DeployPlan { .. } | LoadRequest::RollbackPlan { .. } => View::DeployPlan,
            LoadRequest::RestorePreview(_) => View::RestorePreview,
            LoadRequest::SyncPlan(_) => View::SyncPlan,
            LoadRequest::RemotePreview(_) => View::RemotePreview,
            LoadRequest::InitPlan(_) => View::InitPlan,
            LoadRequest::Buckets => View::BucketPicker,
            LoadRequest::ServiceNames { .. } => View::ServicePicker,
            LoadRequest::SyncTags { .. } => View::TagPicker,
            LoadRequest::CreateBucket { .. } => View::NewBucket,
        }
    }
}

/// What an answer was asked under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// The AWS connection (see [`super::AppState::connection`]).
    pub connection: u64,
    pub view: View,
    /// The request's number: the view's current one when it was asked.
    pub number: u64,
}

/// The current request of each view.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Asked {
    last: u64,
    current: HashMap<View, u64>,
}

impl Asked {
    /// A new request for `view`: whatever was asked for it before is late now.
    pub fn ask(&mut self, view: View) {
        self.last += 1;
        self.current.insert(view, self.last);
    }

    /// The ticket of `view`'s current request under `connection`.
    pub fn ticket(&self, connection: u64, view: View) -> Ticket {
        Ticket { connection, view, number: self.current.get(&view).copied().unwrap_or(0) }
    }

    /// Whether an answer with `ticket` is still its view's current one.
    pub fn is_current(&self, ticket: &Ticket) -> bool {
        self.current.get(&ticket.view) == Some(&ticket.number)
    }
}
