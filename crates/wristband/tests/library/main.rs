//! wristband's own tests: the library on stores and settings of a host's
//! choosing, without the app. One binary; a module per subject.

mod common;
mod rules;
mod setup;
mod stores;
