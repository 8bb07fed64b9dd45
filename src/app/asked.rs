//! One way to know an answer is current. Every AWS request is asked for a
//! view (the services shown, the deploy plan awaited, the bucket picker …);
//! asking again for a view makes the earlier request's answer late. The
//! answer comes back with its [`Ticket`] (the AWS connection, the view, the
//! request's number; the engine's and the files' answers too), and `update` keeps only the view's current one:
//! answers from before a switch (another connection) and answers overtaken
//! by a newer request are dropped in that one place. Leaving a view (a
//! service closed, a repository left, a picker closed) makes its answers
//! late too, so no pane compares places or numbers of its own.

use std::collections::HashMap;

use super::effect::{LoadRequest, LocalLoad};
use super::overlay::{PickPurpose, Picker};

/// What an answer fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    Clusters,
    /// A cluster's services, listed whole.
    Services,
    /// The services on screen described again (a refresh of the listing's rows).
    ServiceRows,
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
    // Read on this machine (the engine, a file), asked the same way.
    Console,
    ContainerDetail,
    SetupPreview,
    SwitchPicker,
    DatabasePicker,
}

impl View {
    /// The views whose answers are about this one's: asking for (or leaving)
    /// a cluster's services makes its rows' refresh and its metrics late.
    fn within(self) -> &'static [View] {
        match self {
            View::Services => &[View::ServiceRows, View::Metrics],
            _ => &[],
        }
    }
}

impl LoadRequest {
    pub fn view(&self) -> View {
        match self {
            LoadRequest::Repositories => View::Repositories,
            LoadRequest::Images { .. } => View::RegistryImages,
            LoadRequest::Snapshots { .. } | LoadRequest::SnapshotsIfMoved { .. } => View::Snapshots,
            LoadRequest::Clusters => View::Clusters,
            LoadRequest::Services { .. } => View::Services,
            LoadRequest::ServicesNamed { .. } => View::ServiceRows,
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

impl LocalLoad {
    pub fn view(&self) -> View {
        match self {
            LocalLoad::Console(_) => View::Console,
            LocalLoad::ContainerDetail { .. } => View::ContainerDetail,
            LocalLoad::SetupPreview { .. } => View::SetupPreview,
            LocalLoad::SwitchChoices { .. } => View::SwitchPicker,
            LocalLoad::Databases { .. } => View::DatabasePicker,
        }
    }
}

impl Picker {
    /// The view whose answer fills this list, while it is being fetched.
    pub fn awaits(&self) -> Option<View> {
        if !self.loading {
            return None;
        }
        match self.purpose {
            PickPurpose::Bucket(_) => Some(View::BucketPicker),
            PickPurpose::Service(_) => Some(View::ServicePicker),
            PickPurpose::SyncTag => Some(View::TagPicker),
            PickPurpose::Switch(_) => Some(View::SwitchPicker),
            PickPurpose::Database(_) => Some(View::DatabasePicker),
            _ => None,
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
        for &view in std::iter::once(&view).chain(view.within()) {
            self.last += 1;
            self.current.insert(view, self.last);
        }
    }

    /// `view` is no longer shown (or awaited): any answer on its way for it is late.
    pub fn leave(&mut self, view: View) {
        self.ask(view);
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
