#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod access;
pub mod cardapps;
pub mod cardcf;
pub mod cardid;
pub mod cmapfile;
mod error;
pub mod fs;
pub mod name;
pub mod overlay;
pub mod path;
pub mod storage;
pub mod well_known;

#[doc(hidden)]
pub mod fuzzing;

pub use access::{AccessCondition, DirAccessCondition, Operation, Principal, Principals};
pub use error::{Error, NameError, Result};
pub use fs::Vfs;
pub use name::Name;
pub use path::FilePath;
pub use storage::{FileInfo, FreeSpace, Storage};
