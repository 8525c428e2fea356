//! One file per pane, plus the status lines and the dialogs. Each draws from `&App` only.

pub mod alerts;
pub mod audit;
pub mod databases;
pub mod dialogs;
pub mod evidence;
pub mod mesh;
pub mod sql;
pub mod status;
pub mod workflows;
