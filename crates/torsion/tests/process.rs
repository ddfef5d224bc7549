//! Child processes against real programs (sh, cat, sleep): what a
//! ProcessProtocol hears and in which order, exit codes and signals, pipes
//! beyond 0/1/2, the environment, both ways of reaping, and the helpers.

mod common;

use std::cell::RefCell;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Duration;

use common::turn_until;
use torsion::process::{
    ChildFd, KilledBySignal, ProcessDone, ProcessExitedAlready, ProcessProtocol, ProcessTerminated,
    ProcessTransport, Reaping, Signal, SpawnOptions, StderrOutput, UnexpectedErrorOutput,
    get_process_output, get_process_output_and_value, set_reaping,
};
use torsion::{Failure, Reactor};

const LIMIT: Duration = Duration::from_secs(10);

/// What a child did, as the protocol heard it.
#[derive(Default)]
struct Heard {
    events: Vec<String>,
    out: Vec<u8>,
    by_fd: Vec<(RawFd, Vec<u8>)>,
    exited: Option<Failure>,
    ended: Option<Failure>,
}

/// Runs in `connection_made`.
type OnStart = Box<dyn FnOnce(&ProcessTransport)>;

/// Records everything; `on_start` runs in `connection_made`.
struct Recorder {
    heard: Rc<RefCell<Heard>>,
    on_start: Option<OnStart>,
}

impl ProcessProtocol for Recorder {
    fn connection_made(&mut self, transport: &ProcessTransport) {
        self.heard.borrow_mut().events.push("made".into());
        if let Some(start) = self.on_start.take() {
            start(transport);
        }
    }
    fn child_data_received(&mut self, fd: RawFd, data: &[u8]) {
        let mut heard = self.heard.borrow_mut();
        if fd == 1 {
            heard.out.extend_from_slice(data);
        }
        heard.by_fd.push((fd, data.to_vec()));
    }
    fn child_connection_lost(&mut self, fd: RawFd) {
        self.heard.borrow_mut().events.push(format!("lost {fd}"));
    }
    fn process_exited(&mut self, reason: Failure) {
        let mut heard = self.heard.borrow_mut();
        heard.events.push("exited".into());
        heard.exited = Some(reason);
    }
    fn process_ended(&mut self, reason: Failure) {
        let mut heard = self.heard.borrow_mut();
        heard.events.push("ended".into());
        heard.ended = Some(reason);
    }
}

/// Runs `sh -c script` to its end and returns what was heard.
fn run_sh(
    reactor: &Reactor,
    script: &str,
    options: SpawnOptions,
    on_start: impl FnOnce(&ProcessTransport) + 'static,
) -> Heard {
    let heard = Rc::new(RefCell::new(Heard::default()));
    let protocol = Recorder {
        heard: heard.clone(),
        on_start: Some(Box::new(on_start)),
    };
    reactor
        .spawn_process(protocol, "/bin/sh", ["-c", script], options)
        .unwrap();
    turn_until(reactor, LIMIT, || heard.borrow().ended.is_some());
    Rc::try_unwrap(heard).ok().unwrap().into_inner()
}

fn terminated(reason: &Failure) -> ProcessTerminated {
    *reason.downcast_ref::<ProcessTerminated>().unwrap()
}

#[test]
fn exit_status_zero_is_process_done_and_others_carry_the_code() {
    let reactor = Reactor::new().unwrap();
    let heard = run_sh(&reactor, "exit 0", SpawnOptions::new(), |_| {});
    assert!(heard.exited.unwrap().is::<ProcessDone>());
    assert!(heard.ended.unwrap().is::<ProcessDone>());

    let heard = run_sh(&reactor, "exit 7", SpawnOptions::new(), |_| {});
    let code = terminated(heard.ended.as_ref().unwrap());
    assert_eq!((code.exit_code, code.signal), (Some(7), None));
    assert_eq!(terminated(heard.exited.as_ref().unwrap()), code);
    assert_eq!(torsion::process::unreaped_children(&reactor), 0);
    assert_eq!(reactor.stats().sources, 0, "every pipe is closed");
    assert_eq!(reactor.stats().watches, 0, "no pidfd is left watched");
}

#[test]
fn a_signal_is_reported_and_a_reaped_child_cannot_be_signalled() {
    let reactor = Reactor::new().unwrap();
    let kept = Rc::new(RefCell::new(None));
    let keep = kept.clone();
    let heard = run_sh(&reactor, "exec sleep 30", SpawnOptions::new(), move |t| {
        assert!(t.pid().is_some());
        t.signal_process(Signal::TERM).unwrap();
        *keep.borrow_mut() = Some(t.clone());
    });
    let reason = terminated(heard.ended.as_ref().unwrap());
    assert_eq!(
        (reason.exit_code, reason.signal),
        (None, Some(Signal::TERM))
    );
    let transport = kept.borrow_mut().take().unwrap();
    assert_eq!(transport.pid(), None);
    let refused = transport.signal_process(Signal::KILL).unwrap_err();
    assert!(refused.is::<ProcessExitedAlready>());
}

#[test]
fn events_come_in_order_with_process_ended_last() {
    let reactor = Reactor::new().unwrap();
    let heard = run_sh(
        &reactor,
        "echo out; echo err >&2",
        SpawnOptions::new(),
        |t| {
            t.close_stdin();
        },
    );
    assert_eq!(heard.events.first().map(String::as_str), Some("made"));
    assert_eq!(heard.events.last().map(String::as_str), Some("ended"));
    for event in ["lost 0", "lost 1", "lost 2", "exited"] {
        assert_eq!(
            heard.events.iter().filter(|e| *e == event).count(),
            1,
            "{event} once"
        );
    }
    assert!(heard.by_fd.contains(&(2, b"err\n".to_vec())));
    assert_eq!(heard.out, b"out\n");
}

#[test]
fn closing_stdin_delivers_end_of_file() {
    let reactor = Reactor::new().unwrap();
    // The child prints its marker only after `cat` has read end of file.
    let heard = run_sh(&reactor, "cat; echo after-eof", SpawnOptions::new(), |t| {
        t.write(b"line one\n");
        t.write(b"line two\n");
        t.close_stdin();
    });
    assert_eq!(heard.out, b"line one\nline two\nafter-eof\n");
    assert!(heard.ended.unwrap().is::<ProcessDone>());
    assert!(heard.events.contains(&"lost 0".to_owned()));
}

#[test]
fn descriptors_beyond_the_standard_three_are_pipes_too() {
    let reactor = Reactor::new().unwrap();
    let options = SpawnOptions::new()
        .child_fd(3, ChildFd::Read)
        .child_fd(4, ChildFd::Write);
    // fd 4 is read and echoed to fd 3.
    let heard = run_sh(&reactor, "cat <&4 >&3", options, |t| {
        t.write_to_child(4, b"via four");
        t.close_child_fd(4);
        t.close_stdin();
    });
    let on_three: Vec<u8> = heard
        .by_fd
        .iter()
        .filter(|(fd, _)| *fd == 3)
        .flat_map(|(_, data)| data.clone())
        .collect();
    assert_eq!(on_three, b"via four");
    assert!(heard.events.contains(&"lost 3".to_owned()));
    assert!(heard.events.contains(&"lost 4".to_owned()));
}

#[test]
fn a_closed_or_null_descriptor_is_what_the_child_finds() {
    let reactor = Reactor::new().unwrap();
    let options = SpawnOptions::new().child_fd(0, ChildFd::Close);
    let heard = run_sh(
        &reactor,
        "if [ -e /proc/self/fd/0 ]; then echo open; else echo closed; fi",
        options,
        |_| {},
    );
    assert_eq!(heard.out, b"closed\n");
    let options = SpawnOptions::new().child_fd(0, ChildFd::Null);
    let heard = run_sh(&reactor, "cat; echo eof", options, |_| {});
    assert_eq!(heard.out, b"eof\n");
}

#[test]
fn environment_and_working_directory_are_the_ones_asked_for() {
    let reactor = Reactor::new().unwrap();
    let options = SpawnOptions::new()
        .env_clear()
        .env("GREETING", "hi")
        .cwd("/");
    let heard = run_sh(&reactor, "echo \"$GREETING $HOME\"; pwd", options, |_| {});
    assert_eq!(heard.out, b"hi \n/\n");

    // cargo runs tests with CARGO_PKG_NAME set: inherited by default,
    // gone when removed.
    let heard = run_sh(
        &reactor,
        "echo \"$CARGO_PKG_NAME\"",
        SpawnOptions::new(),
        |_| {},
    );
    assert_eq!(heard.out, b"torsion\n");
    let options = SpawnOptions::new()
        .env_remove("CARGO_PKG_NAME")
        .env("EXTRA", "1");
    let script = "echo \"${CARGO_PKG_NAME:-none} $EXTRA\"";
    let heard = run_sh(&reactor, script, options, |_| {});
    assert_eq!(heard.out, b"none 1\n");
}

#[test]
fn a_process_group_is_signalled_as_a_whole() {
    let reactor = Reactor::new().unwrap();
    let options = SpawnOptions::new().process_group(0);
    // The shell waits for its own child; TERM to the group ends both, so
    // the pipes (held by `sleep` too) close and the process ends.
    let heard = run_sh(&reactor, "sleep 30 & wait", options, |t| {
        let transport = t.clone();
        torsion::Reactor::current()
            .unwrap()
            .call_later(Duration::from_millis(100), move || {
                transport.signal_group(Signal::TERM).unwrap();
            });
    });
    let reason = terminated(heard.ended.as_ref().unwrap());
    assert_eq!(reason.signal, Some(Signal::TERM));
}

#[test]
fn a_missing_program_fails_to_spawn() {
    let reactor = Reactor::new().unwrap();
    let heard = Rc::new(RefCell::new(Heard::default()));
    let protocol = Recorder {
        heard: heard.clone(),
        on_start: None,
    };
    let error = reactor
        .spawn_process(
            protocol,
            "/nonexistent/program",
            [] as [&str; 0],
            SpawnOptions::new(),
        )
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    assert!(heard.borrow().events.is_empty());
    assert_eq!(reactor.stats().sources, 0);
}

/// Both ways of reaping leave a child that other code spawned with
/// std::process to that code.
fn reaping_leaves_other_children_alone(reaping: Reaping) {
    let reactor = Reactor::new().unwrap();
    set_reaping(&reactor, reaping);
    let mut theirs = std::process::Command::new("/bin/sh")
        .args(["-c", "exit 5"])
        .spawn()
        .unwrap();
    for code in [0, 3] {
        let heard = run_sh(
            &reactor,
            &format!("exit {code}"),
            SpawnOptions::new(),
            |_| {},
        );
        let ended = heard.ended.unwrap();
        if code == 0 {
            assert!(ended.is::<ProcessDone>());
        } else {
            assert_eq!(terminated(&ended).exit_code, Some(code));
        }
    }
    // Their child has long exited; its status is still theirs to collect.
    assert_eq!(theirs.wait().unwrap().code(), Some(5));
    assert_eq!(
        reactor.stats().watches,
        usize::from(reaping == Reaping::ChildSignal)
    );
}

#[test]
fn pidfd_reaping_leaves_other_children_alone() {
    reaping_leaves_other_children_alone(Reaping::Auto);
}

#[test]
fn sigchld_reaping_reports_exits_and_leaves_other_children_alone() {
    reaping_leaves_other_children_alone(Reaping::ChildSignal);
}

#[test]
fn get_process_output_gives_stdout_and_fails_on_stderr_unless_merged() {
    let reactor = Reactor::new().unwrap();
    let out = get_process_output(
        &reactor,
        "/bin/sh",
        ["-c", "echo hello; exit 4"],
        SpawnOptions::new(),
        StderrOutput::Fail,
    );
    let got = Rc::new(RefCell::new(None));
    let slot = got.clone();
    drop(out.map(move |out| *slot.borrow_mut() = Some(out)));
    turn_until(&reactor, LIMIT, || got.borrow().is_some());
    assert_eq!(got.borrow().as_deref(), Some(&b"hello\n"[..]));

    let failed = Rc::new(RefCell::new(None));
    let slot = failed.clone();
    let out = get_process_output(
        &reactor,
        "/bin/sh",
        ["-c", "echo oops >&2; sleep 5"],
        SpawnOptions::new(),
        StderrOutput::Fail,
    );
    drop(out.or_else(move |failure| {
        *slot.borrow_mut() = Some(failure);
        Ok::<_, Failure>(Vec::new())
    }));
    turn_until(&reactor, LIMIT, || failed.borrow().is_some());
    let failure = failed.borrow_mut().take().unwrap();
    assert_eq!(
        failure
            .downcast_ref::<UnexpectedErrorOutput>()
            .unwrap()
            .stderr,
        b"oops\n"
    );

    let merged = Rc::new(RefCell::new(None));
    let slot = merged.clone();
    let out = get_process_output(
        &reactor,
        "/bin/sh",
        ["-c", "echo one; echo two >&2"],
        SpawnOptions::new(),
        StderrOutput::Merge,
    );
    drop(out.map(move |out| *slot.borrow_mut() = Some(out)));
    turn_until(&reactor, LIMIT, || merged.borrow().is_some());
    let merged = merged.borrow_mut().take().unwrap();
    // The two pipes are read in whatever order they become readable.
    assert!(
        merged == b"one\ntwo\n" || merged == b"two\none\n",
        "{merged:?}"
    );
}

#[test]
fn get_process_output_and_value_fails_with_the_output_on_a_signal() {
    let reactor = Reactor::new().unwrap();
    let failed = Rc::new(RefCell::new(None));
    let slot = failed.clone();
    let result = get_process_output_and_value(
        &reactor,
        "/bin/sh",
        ["-c", "echo before; kill -KILL $$"],
        SpawnOptions::new(),
    );
    drop(result.or_else(move |failure| {
        *slot.borrow_mut() = Some(failure);
        Ok::<_, Failure>((Vec::new(), Vec::new(), 0))
    }));
    turn_until(&reactor, LIMIT, || failed.borrow().is_some());
    let failure = failed.borrow_mut().take().unwrap();
    let killed = failure.downcast_ref::<KilledBySignal>().unwrap();
    assert_eq!(killed.signal, Signal::KILL);
    assert_eq!(killed.stdout, b"before\n");
}

#[test]
fn the_async_view_reads_pipes_and_waits_for_the_exit() {
    let reactor = Reactor::new().unwrap();
    let r = reactor.clone();
    let done = reactor.spawn(async move {
        let mut child = r.spawn_child("/bin/sh", ["-c", "cat >&2; exit 9"], SpawnOptions::new())?;
        let stdin = child.take_stdin().unwrap();
        let stderr = child.take_stderr().unwrap();
        stdin.write_all_now(b"to stderr");
        drop(stdin);
        let mut all = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            let n = stderr.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        let status = child.wait().await?;
        Ok::<_, Failure>((all, status.code()))
    });
    let result = Rc::new(RefCell::new(None));
    let slot = result.clone();
    drop(done.map(move |value| *slot.borrow_mut() = Some(value)));
    turn_until(&reactor, LIMIT, || result.borrow().is_some());
    let (all, code) = result.borrow_mut().take().unwrap();
    assert_eq!(all, b"to stderr");
    assert_eq!(code, Some(9));
}
