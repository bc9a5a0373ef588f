//! Board profiles for edgeclip, and detection of the board it runs on.
//!
//! A [`Profile`] says what a board is (target triple, CPU features) and how edgeclip
//! should run there: the backends to try in order, the thread count and the cores
//! to pin them to (big cores first on big.LITTLE), camera defaults, the GPIO chip
//! and lines of its status outputs, and a memory budget. Profiles are TOML files;
//! the ones in `boards/` are built in ([`builtin`]), and a user's own file loads
//! the same way ([`load_file`]). The schema and the detection rules are described in
//! `boards/README.md`.
//!
//! [`detect`] chooses a profile from what the kernel says ([`HostFacts`]: the device
//! tree's model and compatible strings, `/proc/cpuinfo`, the architecture). It is a
//! pure function, tested on text captured from real boards; [`resolve`] adds the
//! `--board NAME|FILE` override.
//!
//! ```
//! use edgeclip_board::{builtin, detect, HostFacts};
//!
//! let pi5 = HostFacts::from_proc(
//!     "aarch64",
//!     Some(b"Raspberry Pi 5 Model B Rev 1.0\0"),
//!     Some(b"raspberrypi,5-model-b\0brcm,bcm2712\0"),
//!     "processor\t: 0\nFeatures\t: fp asimd fphp asimdhp asimddp\nCPU part\t: 0xd0b\n",
//! );
//! let found = detect(&pi5, &builtin())?;
//! assert_eq!(found.profile.name, "rpi5");
//! assert_eq!(found.profile.backends.order, ["tract"]);
//! println!("board {} ({})", found.profile.title, found.reason);
//! # Ok::<(), edgeclip_board::BoardError>(())
//! ```
#![deny(missing_docs)]

mod builtin;
pub mod cpu;
mod detect;
mod error;
pub mod profile;

pub use builtin::{builtin, find, find_in, load_file};
pub use cpu::{cores_by_speed, CpuFeatures, Feature};
pub use detect::{detect, resolve, Detection, HostFacts, AUTO};
pub use error::{BoardError, BoardErrorKind};
pub use profile::Profile;
