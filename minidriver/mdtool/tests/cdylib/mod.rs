//! The built minidriver library, as a CSP finds and loads it: cargo builds the cdylib next to
//! the test executables (`target/<profile>/` or its `deps/`), and the tests that go through the
//! exported `CardAcquireContext` load that file rather than the copy linked into the test.
#![allow(dead_code, unreachable_pub, reason = "each test binary uses a part")]

use std::path::PathBuf;
use std::sync::OnceLock;

use mdtool::csp::{Driver, live_allocations};

/// The path of the built `libminidriver.so` (`minidriver.dll` on Windows).
pub fn path() -> PathBuf {
    named("minidriver")
}

/// The path of the built shared library of the crate whose library is `stem`.
pub fn named(stem: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let name = format!("{}{stem}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    [deps.join(&name), deps.parent().unwrap().join(&name)]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} not built next to {}", deps.display()))
}

/// The built library, loaded once per test process (as a CSP keeps it loaded).
pub fn driver() -> &'static Driver {
    static DRIVER: OnceLock<Driver> = OnceLock::new();
    DRIVER.get_or_init(|| Driver::load(&path()).unwrap())
}

/// Every `pfnCspAlloc` buffer was freed, and the driver zeroed every buffer it freed.
pub fn no_leaks() {
    assert_eq!(live_allocations(), 0, "every pfnCspAlloc buffer was freed");
    assert_eq!(mdtool::csp::driver_frees().1, 0, "the driver zeroed every buffer it freed");
}
