use super::*;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use proptest::prelude::*;

use crate::model::{Config, VlanId};

/// A directory of its own for a test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "brcompat-store-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn file(&self) -> PathBuf {
        self.0.join("brcompat.conf")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn v(n: u32) -> VlanId {
    VlanId::new(n).unwrap()
}

/// The configuration of the module documentation's example.
use crate::model::tests::sample as example;

const EXAMPLE: &str = "\
# brcompat configuration (see the brcompat crate's store module).
# brcompatd rewrites this file on every change: edit it only while
# brcompatd is stopped.

bridge.br0.port=br0
bridge.br0.port=bond0
bridge.br0.port=eth0
bridge.br0.port=eth3
bridge.br0.port=vlan10
bonding.bond0.slave=eth1
bonding.bond0.slave=eth2
vlan.eth3.tag=10
vlan.vlan10.tag=10
vlan.vlan10.fake-bridge=true
";

#[test]
fn the_documented_example_is_what_is_written() {
    assert_eq!(format_config(&example()), EXAMPLE);
    assert_eq!(parse_config(EXAMPLE).unwrap(), example());
    // The module documentation shows the same text.
    let doc = include_str!("../store.rs");
    let mut doc_example = String::new();
    let mut inside = false;
    for line in doc.lines() {
        match line {
            "//! ```text" => inside = true,
            "//! ```" if inside => break,
            _ if inside => {
                doc_example.push_str(line.strip_prefix("//!").unwrap().trim_start());
                doc_example.push('\n');
            }
            _ => {}
        }
    }
    assert_eq!(doc_example, EXAMPLE);
}

#[test]
fn output_is_sorted_and_grouped_by_bridge() {
    let mut c = Config::new();
    for br in ["zz", "aa"] {
        c.add_bridge(br).unwrap();
    }
    c.add_interface("zz", "b").unwrap();
    c.add_interface("zz", "a").unwrap();
    c.add_port("aa", "p", &["q"], Some(v(7))).unwrap();
    let text = format_config(&c);
    let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        body,
        [
            "",
            "bridge.aa.port=aa",
            "bridge.aa.port=p",
            "bonding.p.slave=q",
            "vlan.p.tag=7",
            "",
            "bridge.zz.port=zz",
            "bridge.zz.port=a",
            "bridge.zz.port=b",
        ]
    );
    assert_eq!(format_config(&Config::new()), HEADER);
    assert_eq!(parse_config(HEADER).unwrap(), Config::new());
}

#[test]
fn lenient_where_it_is_harmless() {
    let text = "  # a comment\r\n\r\n\tbridge.br0.100.port=eth0  \r\n\
                bridge.br0.100.port=br0.100\n\
                bridge.br1.port=v5\nvlan.v5.fake-bridge=false\nvlan.v5.tag=5\n";
    let c = parse_config(text).unwrap();
    // Names with dots; the local port implied for br1; fake-bridge=false.
    assert_eq!(c.locate("eth0").unwrap().bridge, "br0.100");
    assert!(c.bridge("br1").unwrap().port("br1").is_some());
    let v5 = c.bridge("br1").unwrap().port("v5").unwrap();
    assert!(!v5.is_fake_bridge());
    assert_eq!(v5.tag(), Some(v(5)));
}

#[test]
fn names_with_the_syntax_characters_round_trip() {
    let mut c = Config::new();
    c.add_bridge("b=1").unwrap();
    c.add_interface("b=1", "e%3D").unwrap();
    c.add_port("b=1", "x.port=y", &["=", "%"], Some(v(3)))
        .unwrap();
    let text = format_config(&c);
    assert!(text.contains("bridge.b%3D1.port=e%253D\n"), "{text}");
    assert!(text.contains("bonding.x.port%3Dy.slave=%3D\n"), "{text}");
    assert_eq!(parse_config(&text).unwrap(), c);
}

#[test]
fn errors_have_line_numbers() {
    let cases: &[(&[u8], usize, &str)] = &[
        (b"bridge.br0.port=br0\nfoo\n", 2, "expected KEY=VALUE"),
        (b"\n\n# c\nbridge.br0.port=br0\nbridge.br0.pot=x\n", 5, "unknown key"),
        (b"bridge.br0.port=br0\nvlan.eth0.tag=10\n", 2, "eth0 is not a port of any bridge"),
        (b"bridge.br0.port=b0\nbonding.b1.slave=e\n", 2, "b1 is not a port of any bridge"),
        (b"bridge.br0.port=eth0\nvlan.eth0.tag=4096\n", 2, "4096"),
        (b"bridge.br0.port=eth0\nvlan.eth0.tag=0\n", 2, "invalid VLAN 0"),
        (b"vlan.eth0.tag=ten\n", 1, "not a VLAN number"),
        (b"bridge.br0.port=eth0\nbridge.br0.port=eth0\n", 2, "repeats line 1"),
        (b"bridge.br0.port=eth0\nvlan.eth0.tag=1\nvlan.eth0.tag=2\n", 3, "repeats"),
        (b"bridge.br0.port=eth0\nbridge.br1.port=eth0\n", 2, "eth0 is already a port of bridge br0"),
        (b"bridge.br0.port=br1\nbridge.br1.port=br1\n", 2, "br1 is already a port of bridge br0"),
        (b"bridge.br0.port=br0\nbridge.br1.port=br0\n", 2, "br0 is a bridge"),
        (
            b"bridge.br1.port=eth1\nbridge.br0.port=bond0\nbonding.bond0.slave=eth1\n",
            3,
            "eth1 is already a port of bridge br1",
        ),
        (
            b"bridge.br0.port=bond0\nbonding.bond0.slave=eth1\nbridge.br1.port=eth1\n",
            3,
            "eth1 is already a port of bridge br0",
        ),
        (b"bridge.br0.port=v10\nvlan.v10.fake-bridge=true\n", 2, "has no vlan.v10.tag line"),
        (
            b"bridge.br0.port=v10\nvlan.v10.tag=10\nbonding.v10.slave=a\nvlan.v10.fake-bridge=true\n",
            3,
            "cannot be a bond",
        ),
        (
            b"bridge.br0.port=v1\nvlan.v1.tag=1\nvlan.v1.fake-bridge=true\n\
              bridge.br0.port=v2\nvlan.v2.tag=1\nvlan.v2.fake-bridge=true\n",
            4,
            "bridge v1 already exists",
        ),
        (b"bridge.br0.port=br0\nvlan.br0.tag=5\n", 2, "local port"),
        (b"bridge.a/b.port=x\n", 1, "'/'"),
        (b"bridge.br0.port=-x\n", 1, "'-'"),
        (b"bridge.br0.port=0123456789abcdef\n", 1, "16 bytes"),
        (b"bridge.br0.port=e%zz\n", 1, "two hex digits"),
        (b"bridge.br0.port=e%\n", 1, "two hex digits"),
        (b"bridge.br0.port=e%ff\n", 1, "not UTF-8"),
        (b"bridge.br0.port=x\nbridge.br0.port=\xff\n", 2, "not UTF-8"),
        (b"vlan.x.fake-bridge=yes\n", 1, "expected true or false"),
        (b"bridge.port=x\n", 1, "unknown key"),
    ];
    for (text, line, fragment) in cases {
        let e = parse_config_bytes(text).unwrap_err();
        let shown = String::from_utf8_lossy(text);
        assert_eq!(e.line, *line, "{shown:?}: {e}");
        assert!(
            e.message.contains(fragment),
            "{shown:?}: {e} should say {fragment:?}"
        );
        assert!(e.to_string().starts_with(&format!("line {line}: ")));
    }
}

/// A change from four random bytes, over a small pool of names (some with
/// the file syntax's characters in them) so that operations meet.
fn change_from(kind: u8, a: u8, b: u8, c: u8) -> Change {
    const NAMES: &[&str] = &[
        "br0", "br.1", "e%0", "a=b", "x.port", "v.tag", "é1", "eth0", "eth1", "bond0", "b=.port=",
        "z",
    ];
    let name = |i: u8| NAMES[usize::from(i) % NAMES.len()].to_owned();
    let tag = VlanId::new(u32::from(c % 4) + 1).unwrap();
    match kind % 8 {
        0 => Change::AddBridge { name: name(a) },
        1 => Change::AddFakeBridge {
            name: name(a),
            parent: name(b),
            tag,
        },
        2 => Change::AddInterface {
            bridge: name(a),
            interface: name(b),
        },
        3 | 4 => Change::AddPort {
            bridge: name(a),
            port: name(b),
            interfaces: (0..=c % 3).map(|i| name(c.wrapping_add(i))).collect(),
            tag: (kind % 8 == 4).then_some(tag),
        },
        5 => Change::DeleteInterface {
            bridge: name(a),
            interface: name(b),
        },
        6 => Change::DeleteBridge { name: name(a) },
        _ => Change::Prune {
            interfaces: vec![name(a), name(b)],
        },
    }
}

proptest! {
    #[test]
    fn random_configurations_round_trip(
        ops in proptest::collection::vec(any::<(u8, u8, u8, u8)>(), 0..60)
    ) {
        let mut c = Config::new();
        for (k, a, b, x) in ops {
            let _ = c.apply(&change_from(k, a, b, x));
        }
        let text = format_config(&c);
        let back = parse_config(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &c);
        prop_assert_eq!(format_config(&back), text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[a-z.=%#0-9\n ]{0,200}") {
        let _ = parse_config(&text);
    }
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_missing_file_is_empty_and_changes_are_written() {
    let dir = TempDir::new("missing");
    let path = dir.file();
    let store = FileStore::open(&path).unwrap();
    assert!(store.snapshot().is_empty());
    // A refused change writes nothing.
    let e = store
        .apply(&Change::DeleteBridge { name: "br0".into() })
        .unwrap_err();
    assert_eq!(e.errno(), libc::ENXIO);
    assert!(!path.exists());
    let applied = store
        .apply(&Change::AddBridge { name: "br0".into() })
        .unwrap();
    assert!(applied.changed);
    assert_eq!(mode_of(&path), CONFIG_MODE);
    assert_eq!(mode_of(store.lock_path()), LOCK_MODE);
    assert_eq!(store.lock_path(), dir.0.join("brcompat.conf.lock"));
    assert!(!dir.0.join("brcompat.conf.tmp").exists());
    assert_eq!(
        parse_config(&fs::read_to_string(&path).unwrap()).unwrap(),
        store.snapshot()
    );
    drop(store);
    // Read back on start.
    let store = FileStore::open(&path).unwrap();
    assert!(store.snapshot().bridge("br0").is_some());
}

#[test]
fn a_change_without_effect_does_not_write() {
    let dir = TempDir::new("noop");
    fs::write(dir.file(), EXAMPLE).unwrap();
    let store = FileStore::open(dir.file()).unwrap();
    // Adding a bridge that is a fake bridge succeeds without a change: the
    // file keeps its bytes and its mode.
    fs::set_permissions(dir.file(), Permissions::from_mode(0o640)).unwrap();
    let applied = store
        .apply(&Change::AddBridge {
            name: "vlan10".into(),
        })
        .unwrap();
    assert!(!applied.changed);
    assert_eq!(mode_of(&dir.file()), 0o640);
}

#[test]
fn a_file_that_does_not_parse_is_reported_and_untouched() {
    let dir = TempDir::new("bad");
    let text = "bridge.br0.port=br0\nbridge.br0.port=eth0\nvlan.eth0.tag=9999\n";
    fs::write(dir.file(), text).unwrap();
    let e = FileStore::open(dir.file()).unwrap_err();
    assert!(
        matches!(e, StoreError::Parse { ref error, .. } if error.line == 3),
        "{e}"
    );
    assert_eq!(e.errno(), libc::EINVAL);
    let shown = e.to_string();
    assert!(
        shown.contains("brcompat.conf: line 3: invalid VLAN 9999"),
        "{shown}"
    );
    assert_eq!(fs::read_to_string(dir.file()).unwrap(), text);
    // The lock was released with the failed store.
    fs::write(dir.file(), EXAMPLE).unwrap();
    FileStore::open(dir.file()).unwrap();
}

#[test]
fn a_second_store_on_the_same_file_is_refused() {
    let dir = TempDir::new("lock");
    let first = FileStore::open(dir.file()).unwrap();
    let e = FileStore::open(dir.file()).unwrap_err();
    assert!(matches!(e, StoreError::Locked { .. }), "{e}");
    assert_eq!(e.errno(), libc::EAGAIN);
    let shown = e.to_string();
    assert!(shown.contains("another brcompatd"), "{shown}");
    assert!(shown.contains("brcompat.conf.lock is locked"), "{shown}");
    drop(first);
    FileStore::open(dir.file()).unwrap();
}

#[test]
fn a_stale_temporary_file_is_removed() {
    let dir = TempDir::new("stale");
    fs::write(dir.file(), EXAMPLE).unwrap();
    let tmp = dir.0.join("brcompat.conf.tmp");
    fs::write(&tmp, "bridge.half").unwrap();
    let store = FileStore::open(dir.file()).unwrap();
    assert!(!tmp.exists());
    assert_eq!(store.snapshot(), example());
}

#[test]
fn a_failed_write_applies_nothing() {
    let dir = TempDir::new("fail");
    fs::write(dir.file(), EXAMPLE).unwrap();
    let store = FileStore::open(dir.file()).unwrap();
    // A directory where the temporary file goes makes the write fail.
    let tmp = dir.0.join("brcompat.conf.tmp");
    fs::create_dir(&tmp).unwrap();
    let e = store
        .apply(&Change::AddBridge { name: "br9".into() })
        .unwrap_err();
    assert!(matches!(e, StoreError::Io { .. }), "{e}");
    assert_eq!(e.errno(), libc::EISDIR);
    assert!(e.to_string().contains("brcompat.conf.tmp"), "{e}");
    assert_eq!(store.snapshot(), example());
    assert_eq!(fs::read_to_string(dir.file()).unwrap(), EXAMPLE);
    fs::remove_dir(&tmp).unwrap();
    store
        .apply(&Change::AddBridge { name: "br9".into() })
        .unwrap();
    assert!(store.snapshot().bridge("br9").is_some());
}

#[test]
fn load_reads_the_file_again() {
    let dir = TempDir::new("load");
    let store = FileStore::open(dir.file()).unwrap();
    fs::write(dir.file(), EXAMPLE).unwrap();
    assert_eq!(store.load().unwrap(), example());
    assert_eq!(store.snapshot(), example());
    fs::write(dir.file(), "garbage\n").unwrap();
    let e = store.load().unwrap_err();
    assert!(e.to_string().contains("line 1"), "{e}");
    assert_eq!(store.snapshot(), example());
}

#[test]
fn concurrent_writers_lose_nothing() {
    let dir = TempDir::new("threads");
    let store = Arc::new(FileStore::open(dir.file()).unwrap());
    store
        .apply(&Change::AddBridge { name: "br0".into() })
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store: Arc<dyn ConfigBackend> = store.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let iface = format!("t{t}i{i}");
                    let add = Change::AddInterface {
                        bridge: "br0".into(),
                        interface: iface.clone(),
                    };
                    store.apply(&add).unwrap();
                    if i % 2 == 0 {
                        let del = Change::DeleteInterface {
                            bridge: "br0".into(),
                            interface: iface,
                        };
                        store.apply(&del).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let config = store.snapshot();
    let ports = config.list_ports("br0").unwrap();
    assert_eq!(ports.len(), 8 * 12);
    drop(store);
    assert_eq!(FileStore::open(dir.file()).unwrap().snapshot(), config);
}

#[test]
fn the_empty_fdb_source_is_empty() {
    let fdb: Box<dyn FdbSource> = Box::new(EmptyFdb);
    assert!(fdb.entries("br0", 0, 0, 256).unwrap().is_empty());
}

/// The environment variable that makes [`crash_child`] a writer.
const CRASH_CHILD: &str = "BRCOMPAT_STORE_CRASH_CHILD";

/// How many changes a crash child makes at most.
const CRASH_BURST: usize = 400;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The next change of a crash run's burst, made from the configuration it
/// applies to (so the parent replays exactly what the child did): mostly
/// addif of a free interface or delif of an attached one, so most changes
/// rewrite the file, with bonds, fake bridges, bridge deletions and prunes
/// now and then.
fn next_change(rng: &mut Rng, config: &Config) -> Change {
    let bridges = config.list_bridges();
    let iface = format!("e{}", rng.below(12));
    let pick = rng.below(20);
    if bridges.is_empty() || pick == 0 {
        return Change::AddBridge {
            name: format!("b{}", rng.below(2)),
        };
    }
    let br = bridges[rng.below(bridges.len() as u64) as usize]
        .name
        .clone();
    match pick {
        1 => Change::AddFakeBridge {
            name: "f5".into(),
            parent: "b0".into(),
            tag: v(5),
        },
        2 => Change::DeleteBridge { name: br },
        3 => Change::AddPort {
            bridge: br,
            port: format!("bond{}", rng.below(2)),
            interfaces: vec![iface, format!("e{}", 12 + rng.below(4))],
            tag: None,
        },
        4 => Change::Prune {
            interfaces: vec![iface],
        },
        _ => match config.locate(&iface) {
            Some(at) => Change::DeleteInterface {
                bridge: at.bridge,
                interface: iface,
            },
            None => Change::AddInterface {
                bridge: br,
                interface: iface,
            },
        },
    }
}

/// The generator of crash run `seed`.
fn crash_rng(seed: u64) -> Rng {
    Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
}

/// Not a test on its own: run by [`killed_writers_never_break_the_file`]
/// in a child process, it applies a burst of changes to the file and prints
/// `ACK i` after change `i` is durable.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CRASH_CHILD) else {
        return;
    };
    let (path, seed) = spec.rsplit_once(';').expect("PATH;SEED");
    let store = FileStore::open(path).expect("child opens the store");
    let mut out = io::stdout().lock();
    // On a line of its own: the test harness has begun one.
    writeln!(out, "\nREADY").unwrap();
    out.flush().unwrap();
    let mut rng = crash_rng(seed.parse().unwrap());
    for i in 0..CRASH_BURST {
        let change = next_change(&mut rng, &store.snapshot());
        match store.apply(&change) {
            Ok(_) | Err(StoreError::Config(_)) => {}
            Err(e) => panic!("change {i}: {e}"),
        }
        writeln!(out, "ACK {i}").unwrap();
        out.flush().unwrap();
    }
    writeln!(out, "DONE").unwrap();
}

/// Kills a writer in the middle of a burst of changes, 100 times: the file
/// must always load, and hold every change the writer acknowledged (and the
/// one in flight, or not).
#[test]
fn killed_writers_never_break_the_file() {
    let dir = TempDir::new("crash");
    let path = dir.file();
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(0x5eed);
    let mut before = Config::new();
    let (mut with_in_flight, mut acked_total, mut writes, mut finished) = (0, 0, 0, 0);
    let mut torn = 0;
    const RUNS: u64 = 100;
    for run in 0..RUNS {
        let seed = run + 1;
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "store::tests::crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_CHILD, format!("{};{seed}", path.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acked = 0usize;
        let mut done = false;
        let mut ready = false;
        let kill_after = rng.below(40) as usize;
        let note = |line: &str, acked: &mut usize, done: &mut bool, ready: &mut bool| {
            if let Some(i) = line.strip_prefix("ACK ") {
                *acked = i.parse::<usize>().unwrap() + 1;
            } else if line == "DONE" {
                *done = true;
            } else if line == "READY" {
                *ready = true;
            }
        };
        for line in lines.by_ref() {
            note(&line.unwrap(), &mut acked, &mut done, &mut ready);
            if ready && run == 0 {
                // While the writer lives, the file is its alone.
                let e = FileStore::open(&path).unwrap_err();
                assert!(matches!(e, StoreError::Locked { .. }), "{e}");
            }
            if (ready && acked >= kill_after) || done {
                break;
            }
        }
        if !ready {
            let _ = child.kill();
            let _ = child.wait();
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("run {run}: the child did not start: {err}");
        }
        std::thread::sleep(Duration::from_micros(rng.below(1500)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        for line in lines {
            note(&line.unwrap(), &mut acked, &mut done, &mut ready);
        }
        if done {
            finished += 1;
        } else {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            assert!(
                !status.success(),
                "run {run}: the child ended by itself: {err}"
            );
            assert!(!err.contains("panicked"), "run {run}: {err}");
        }
        acked_total += acked;

        // A temporary file left behind: the kill came in the middle of a
        // write.
        if dir.0.join("brcompat.conf.tmp").exists() {
            torn += 1;
        }
        let store = FileStore::open(&path).unwrap_or_else(|e| {
            panic!(
                "run {run}: after kill: {e}\n{}",
                fs::read_to_string(&path).unwrap_or_default()
            )
        });
        let got = store.snapshot();
        drop(store);
        let mut gen = crash_rng(seed);
        let mut expected = before.clone();
        for _ in 0..acked {
            let change = next_change(&mut gen, &expected);
            if expected.apply(&change).is_ok_and(|a| a.changed) {
                writes += 1;
            }
        }
        if got != expected {
            // The change in flight may have been made durable before the
            // kill; nothing else may differ.
            assert!(acked < CRASH_BURST, "run {run}: all changes acknowledged");
            let in_flight = next_change(&mut gen, &expected);
            let _ = expected.apply(&in_flight);
            assert_eq!(got, expected, "run {run}: {acked} changes acknowledged");
            with_in_flight += 1;
        }
        before = got;
    }
    eprintln!(
        "crash test: {RUNS} kills, {acked_total} acknowledged changes ({writes} of them \
         rewrote the file), all present; {with_in_flight} runs kept the change in flight; \
         {torn} kills left a temporary file; {finished} bursts finished first"
    );
}
