//! Child-process test helpers, shared by the library's unit tests (src/lib.rs includes this file
//! as `test_support`) and the integration tests (`#[path = "support/child.rs"]`): a test that
//! takes over fds 1 and 2 runs alone in a re-executed copy of its test binary.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;

/// Run `f` with fds 1 and 2 on a pipe; return what reached them.
pub(crate) fn captured(f: impl FnOnce()) -> Vec<u8> {
    let (mut reader, writer) = std::io::pipe().unwrap();
    let drain = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).unwrap();
        bytes
    });
    // SAFETY: plain descriptor duplication, in a child process that runs this one test.
    let saved = unsafe { [libc::dup(1), libc::dup(2)] };
    // SAFETY: as above.
    unsafe {
        libc::dup2(writer.as_raw_fd(), 1);
        libc::dup2(writer.as_raw_fd(), 2);
    }
    drop(writer);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let _ = std::io::stdout().flush();
    // SAFETY: restore the saved descriptors, which closes the pipe's last write ends.
    unsafe {
        libc::dup2(saved[0], 1);
        libc::dup2(saved[1], 2);
        libc::close(saved[0]);
        libc::close(saved[1]);
    }
    let bytes = drain.join().unwrap();
    if let Err(panic) = result {
        eprintln!("captured output: {}", String::from_utf8_lossy(&bytes));
        std::panic::resume_unwind(panic);
    }
    bytes
}

/// Run the ignored test `name` of this test binary in a child process (where it may take over
/// fds 1 and 2), with extra environment variables, and fail unless it ran and passed.
pub(crate) fn run_child_test(name: &str, env: &[(&str, &std::path::Path)]) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "child failed: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"), "the child test did not run");
}
