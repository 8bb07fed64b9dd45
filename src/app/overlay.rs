//! What covers the panes for a moment: help, a question (yes or no), a
//! one-line text field, or a list to pick from, and what an answer goes on to do.

use std::collections::BTreeMap;

use super::state::Cursor;
use crate::config::Profile;
use crate::config::save::Chosen;
use crate::jobs::{DeployJob, PruneJob, PushJob, RestoreJob, SyncJob};

/// A live list to pick one item from: typing filters it, arrows move,
/// `enter` picks, `esc` clears the filter or cancels.
#[derive(Debug, Clone, PartialEq)]
pub struct Picker {
    pub title: String,
    pub items: Vec<PickItem>,
    pub cursor: Cursor,
    pub purpose: PickPurpose,
    /// The list is still being fetched.
    pub loading: bool,
    /// Why the list could not be fetched.
    pub error: Option<String>,
    /// What a name typed that is not in the list makes, offered as the last item.
    pub creates: Option<Creates>,
}

/// Something a picker can make when the name typed is not there yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creates {
    /// An S3 bucket, with `wharf init`'s settings.
    Bucket,
}

/// How a picked value says "make it": a first character no name has.
pub const CREATE: char = '+';

impl Creates {
    /// Whether `name` is one it can make (S3's rules for bucket names).
    pub fn valid(self, name: &str) -> bool {
        match self {
            Creates::Bucket => {
                (3..=63).contains(&name.len())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                    && name.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && name.ends_with(|c: char| c.is_ascii_alphanumeric())
                    && !name.contains("..")
                    && name.parse::<std::net::Ipv4Addr>().is_err()
            }
        }
    }

    fn item(self, name: &str) -> PickItem {
        match self {
            Creates::Bucket => PickItem {
                value: format!("{CREATE}{name}"),
                label: format!("create bucket {name}"),
                detail: "Block Public Access, default encryption, incomplete uploads aborted after a day"
                    .into(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickItem {
    /// What picking it chooses.
    pub value: String,
    pub label: String,
    /// Said beside it (a price, an image and state).
    pub detail: String,
}

/// What a pick is for.
#[derive(Debug, Clone, PartialEq)]
pub enum PickPurpose {
    Bucket(Setup),
    StorageClass(Setup),
    Container(Setup),
    DataPath(Setup),
    /// A wharf profile, an AWS profile or a region, from what was read.
    Switch(Box<Choices>),
    /// The set-up panel's settings.
    Settings,
    Cluster(Setup),
    Service(Setup),
    /// The database of the server in the container (`*`: every one).
    Database(Setup),
    /// Whether to save the settings the run was given on the command line too.
    Given(Setup),
    /// The tag of the profile's repository a sync brings (no service says which).
    SyncTag,
}

impl Picker {
    pub fn new(title: &str, purpose: PickPurpose) -> Picker {
        Picker {
            title: title.to_string(),
            items: Vec::new(),
            cursor: Cursor::default(),
            purpose,
            loading: false,
            error: None,
            creates: None,
        }
    }

    /// The items the filter lets through, and last, when the name typed is
    /// not one of them and can be made, the item that makes it.
    pub fn visible(&self) -> Vec<PickItem> {
        let mut visible: Vec<PickItem> =
            self.items.iter().filter(|i| self.cursor.matches(&i.label)).cloned().collect();
        let typed = self.cursor.filter.trim();
        if let Some(creates) = self.creates.filter(|c| !self.loading && c.valid(typed))
            && !self.items.iter().any(|i| i.value == typed)
        {
            visible.push(creates.item(typed));
        }
        visible
    }
}

/// A one-line text field that asks for something before an action.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub title: String,
    pub text: String,
    pub purpose: PromptPurpose,
    /// Why the last submitted text was refused.
    pub error: Option<String>,
    /// Names `tab` puts in the field, from a live list (ECR repositories for a push).
    pub choices: Vec<String>,
    /// What the answer will do, above the field.
    pub note: Vec<String>,
}

impl Prompt {
    pub fn new(title: String, text: String, purpose: PromptPurpose) -> Prompt {
        Prompt { title, text, purpose, error: None, choices: Vec::new(), note: Vec::new() }
    }

    /// The part of the text a choice replaces: the repository of `repository:tag`.
    pub fn choice_part(&self) -> &str {
        self.text.split_once(':').map_or(&self.text, |(name, _)| name)
    }

    /// The choices that start with what is typed, all of them when none does.
    pub fn matching_choices(&self) -> Vec<&str> {
        let typed = self.choice_part();
        let matching: Vec<&str> =
            self.choices.iter().map(String::as_str).filter(|c| c.starts_with(typed) && *c != typed).collect();
        if matching.is_empty() { self.choices.iter().map(String::as_str).collect() } else { matching }
    }

    /// Puts the next choice after the current one into the field, keeping any `:tag`.
    pub fn complete(&mut self) {
        let typed = self.choice_part().to_string();
        let next = match self.choices.iter().position(|c| *c == typed) {
            Some(i) => self.choices.get((i + 1) % self.choices.len()).cloned(),
            None => self.matching_choices().first().map(|c| c.to_string()),
        };
        if let Some(next) = next {
            let rest = self.text.split_once(':').map(|(_, tag)| format!(":{tag}")).unwrap_or_default();
            self.text = format!("{next}{rest}");
        }
    }
}

/// A yes/no question before something that changes the world.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub lines: Vec<String>,
    pub on_yes: Confirmed,
}

/// What a yes to a [`Confirm`] starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmed {
    /// Create the missing ECR repository, then push into it.
    CreateRepositoryAndPush(PushJob),
    /// Replace a container's data with a snapshot.
    Restore(RestoreJob),
    /// Delete the snapshots listed.
    Prune(PruneJob),
    /// Point a service at a new or previous task definition.
    Deploy(Box<DeployJob>),
    /// Bring this machine to the head of the loop, as planned.
    Sync(Box<SyncJob>),
    /// Write the settings picked to `wharf.toml`, then go on.
    SaveSetup(Box<SavePlan>),
    /// Create on AWS what the plan shown lists.
    Init(Box<crate::jobs::init::InitJob>),
    /// Back up the database that runs in ECS, as shown.
    RemoteBackup(Box<crate::jobs::RemoteBackupJob>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum PromptPurpose {
    /// The image reference to bake `container` into.
    BakeTag { container: String },
    /// The ECR `repository:tag` to push `image` to.
    PushTarget { image: String },
    /// The file to save the Logs pane's lines to.
    SaveLogs,
    /// A protected profile: `expected` typed exactly, and then `on_yes`.
    TypeToConfirm { expected: String, on_yes: Box<Confirmed> },
    /// The prefix for snapshots, in a set-up.
    SetupPrefix(Setup),
    /// The database's data directory, in a set-up (a container without mounts).
    SetupPath(Setup),
    /// The name of the database container a run creates, in a set-up.
    SetupContainerName(Setup),
    /// The user the database's client logs in as, in a set-up.
    SetupUser(Setup),
}

/// What is drawn over the panes and takes the keys first.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help {
        scroll: u16,
    },
    /// Jobs are running: quit only after a yes.
    ConfirmQuit,
    Prompt(Prompt),
    Confirm(Confirm),
    Pick(Picker),
}

/// The action a set-up goes on with once its choices are saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Goal {
    Backup,
    /// One setting picked again from the set-up panel: saved, nothing more.
    Again(String),
    /// The deploy of this image (`repository-uri@digest`) to the service picked.
    Deploy(String),
    /// The run of this local image as the database container named.
    Run(String),
}

/// The choices of one set-up so far, in the order they were made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub goal: Goal,
    pub chosen: Vec<Chosen>,
    /// Whether the settings this run was given on the command line or in
    /// the environment were offered for saving too.
    pub offered_given: bool,
}

impl Setup {
    pub fn new(goal: Goal) -> Setup {
        Setup { goal, chosen: Vec::new(), offered_given: false }
    }
}

/// What the dashboard writes once the user has seen it: the file's new text,
/// and the text it replaces (a file changed meanwhile is not overwritten).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavePlan {
    pub setup: Setup,
    pub file: std::path::PathBuf,
    pub before: Option<String>,
    pub after: String,
}

/// What can be switched to, read when the list is opened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Choices {
    /// The configuration file's profiles.
    pub profiles: BTreeMap<String, Profile>,
    /// `~/.aws/config`'s profiles.
    pub aws_profiles: Vec<String>,
}
