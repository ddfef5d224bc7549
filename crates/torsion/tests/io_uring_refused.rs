//! A kernel that refuses io_uring gets an epoll reactor, with a warning,
//! and the reactor serves as usual. The refusal is real: each test runs
//! itself again in a child process under a seccomp filter that fails the
//! `io_uring_setup` system call with the errno a refusing kernel gives
//! (`EPERM` where `kernel.io_uring_disabled` or a container's filter
//! forbids it, `ENOSYS` where the kernel predates io_uring). The filter is
//! installed by a few lines of Python (ctypes, no package) before it
//! executes this test binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use torsion::Reactor;
use torsion::net::factory_fn;
use torsion::reactor::{BACKEND_ENV, Backend};

mod common;

/// Set in the child process, which runs under the filter.
const REFUSED_ENV: &str = "TORSION_TEST_IO_URING_REFUSED";

/// Installs a seccomp filter failing `io_uring_setup` (system call 425 on
/// every Linux architecture) with the errno in `argv[1]`, then executes
/// `argv[2:]`.
const REFUSE_IO_URING: &str = r#"
import ctypes, os, struct, sys
errno = int(sys.argv[1])
LOAD_NR, JEQ, RET = 0x20, 0x15, 0x06
ALLOW, FAIL = 0x7FFF0000, 0x00050000 | errno
program = [(LOAD_NR, 0, 0, 0), (JEQ, 0, 1, 425), (RET, 0, 0, FAIL), (RET, 0, 0, ALLOW)]
code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *op) for op in program))
class Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
    sys.exit("PR_SET_NO_NEW_PRIVS: errno %d" % ctypes.get_errno())
filter_program = Program(len(program), ctypes.addressof(code))
if libc.prctl(22, 2, ctypes.byref(filter_program), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
    sys.exit("PR_SET_SECCOMP: errno %d" % ctypes.get_errno())
os.execv(sys.argv[2], sys.argv[2:])
"#;

/// Runs `test` in a child process whose `io_uring_setup` fails with
/// `errno`, and gives the child's standard error; true in the child,
/// which then runs the test's body.
fn refused_with(test: &str, errno: i32) -> Option<String> {
    if std::env::var(REFUSED_ENV).is_ok() {
        return None;
    }
    let output = Command::new("python3")
        .args(["-c", REFUSE_IO_URING, &errno.to_string()])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(REFUSED_ENV, "1")
        .env(BACKEND_ENV, "io_uring")
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{test} failed under the filter (errno {errno}):\n{}{stderr}",
        String::from_utf8_lossy(&output.stdout)
    );
    Some(stderr)
}

/// In the child: a reactor asked for io_uring, by the builder or by the
/// environment, runs on epoll, and an echo server on it answers; the
/// warnings go to standard error.
fn an_echo_on_a_reactor_asked_for_io_uring_works_on_epoll() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .without_time()
        .with_ansi(false)
        .init();
    assert_eq!(Reactor::new().unwrap().backend(), Backend::Epoll);
    let reactor = Reactor::with_backend(Backend::IoUring).unwrap();
    assert_eq!(reactor.backend(), Backend::Epoll);
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(|_| Some(common::Echo::default())),
        )
        .unwrap();
    let address = port.tcp_address().unwrap();
    let client = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(b"still served").unwrap();
        let mut echoed = [0; 12];
        stream.read_exact(&mut echoed).unwrap();
        echoed
    });
    common::turn_until(&reactor, Duration::from_secs(10), || client.is_finished());
    assert_eq!(&client.join().unwrap(), b"still served");
}

#[test]
fn io_uring_disabled_by_policy_gives_an_epoll_reactor_that_serves() {
    match refused_with(
        "io_uring_disabled_by_policy_gives_an_epoll_reactor_that_serves",
        libc::EPERM,
    ) {
        Some(stderr) => assert!(
            stderr.contains("io_uring refused; the reactor uses epoll"),
            "no warning in:\n{stderr}"
        ),
        None => an_echo_on_a_reactor_asked_for_io_uring_works_on_epoll(),
    }
}

#[test]
fn a_kernel_without_io_uring_gives_an_epoll_reactor_that_serves() {
    match refused_with(
        "a_kernel_without_io_uring_gives_an_epoll_reactor_that_serves",
        libc::ENOSYS,
    ) {
        Some(stderr) => assert!(
            stderr.contains("io_uring refused; the reactor uses epoll"),
            "no warning in:\n{stderr}"
        ),
        None => an_echo_on_a_reactor_asked_for_io_uring_works_on_epoll(),
    }
}
