//! wharf's own domain types: what the panes, the commands and the jobs talk
//! about — images and containers, repositories, services and tasks,
//! snapshots and their manifests, log lines. The layers that fetch them
//! (`aws`, `docker`, `snapshots`) build them; none of them is an SDK's type.

pub mod ecs;
pub mod images;
pub mod logs;
pub mod metrics;
pub mod registry;
pub mod snapshots;
