//! wharf's integration tests, in one binary so that the AWS SDK is linked once.
//! They drive the library (and, in `cli` and `e2e`, the real binary) against the
//! machine's real Docker Engine; `scripts/test.sh` sets up what they need.

mod backup;
mod charts;
mod chunked;
mod chunking;
mod classes;
mod cli;
mod config;
mod databases;
mod docker;
mod e2e;
mod ecs;
mod export;
mod history;
mod init;
mod jobs;
mod keymap;
mod late;
mod layers;
mod logs;
mod logs_pane;
mod machine_keys;
mod machines;
mod mocks;
mod panes;
mod prune;
mod push;
mod refresh;
mod registry;
mod remote;
mod remote_task;
mod restore;
mod scale;
mod secrets;
mod setup;
mod shell;
mod standing;
mod support;
mod switch;
mod sync;
mod themes;
mod together;
mod truthful;
mod update;
