//! Running the real `ess-map` binary for end-to-end tests: built once with
//! cargo, started on a free loopback port with the real data, stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `$ESS_MAP_DATA`, else the project's `data/` (the data it ships).
pub fn data_dir() -> PathBuf {
    std::env::var_os("ESS_MAP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("data"))
}

/// An original data file from the project's `data/`, decompressed into
/// `dir` (tests that import or locate a real file need it as a user has it).
pub fn data_file(dir: &std::path::Path, name: &str) -> PathBuf {
    use std::io::Read;
    let compressed =
        std::fs::read(root().join("data").join(format!("{name}.gz"))).expect("a shipped data file");
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut text)
        .expect("gzip");
    let out = dir.join(std::path::Path::new(name).file_name().expect("a file name"));
    std::fs::write(&out, text).expect("writing a test file");
    out
}

/// A copy of a shipped CSV whose `siret` column is renamed (so not read):
/// imported under another source, its rows are not the open data's
/// structures by their SIRET and are all shown (tests of the import's
/// mechanics, not of duplicates).
pub fn without_siret(file: &std::path::Path) -> PathBuf {
    let text = std::fs::read_to_string(file).expect("a CSV file");
    let (header, rest) = text.split_once('\n').expect("a header line");
    let header: Vec<&str> = header
        .split(',')
        .map(|h| if h == "siret" { "siret_non_lu" } else { h })
        .collect();
    let out = file.with_extension("sans-siret.csv");
    std::fs::write(&out, format!("{}\n{rest}", header.join(","))).expect("writing a test file");
    out
}

/// A state directory for the commands of this test binary that do not
/// import (they still open the store); removed at exit by the OS's tmp cleaning.
fn shared_state() -> &'static std::path::Path {
    static STATE: OnceLock<tempfile::TempDir> = OnceLock::new();
    STATE
        .get_or_init(|| tempfile::tempdir().expect("temporary state directory"))
        .path()
}

/// `ess-map` with a state directory of its own (not the project's) and the
/// offline geocoder (no network in tests unless a test starts addok).
/// The analysis budget of the servers the tests start.
pub const TEST_ANALYSIS_TIMEOUT_S: &str = "120";

pub fn ess_map() -> Command {
    let mut command = Command::new(binary());
    command
        .env("ESS_MAP_STATE", shared_state())
        .env("ESS_MAP_GEOCODER", "none");
    command
}

/// `ess-map import FILE --source SOURCE` on the real data and a state
/// directory, with more arguments (`--dry-run`, `--geocoder`, `--config`);
/// its JSON summary. Fails the test if the import fails.
pub fn import(
    state: &std::path::Path,
    file: &std::path::Path,
    source: &str,
    extra: &[&str],
) -> Value {
    let mut command = ess_map();
    with_store(&mut command, state);
    let out = command
        .arg("--data")
        .arg(data_dir())
        .arg("--state")
        .arg(state)
        .arg("import")
        .arg(file)
        .args(["--source", source])
        .args(extra)
        .output()
        .expect("ess-map runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON summary")
}

/// The store matrix: with `ESS_MAP_TEST_STORE=postgres`, every state
/// directory's store is a database of its own in one PostgreSQL server
/// started for this test process (the README's test command runs the store
/// tests so, after running them on SQLite); else `None`, SQLite in the
/// state directory. Every command a test runs on a state directory goes
/// through [`with_store`].
pub fn store_for(state: &std::path::Path) -> Option<String> {
    if std::env::var("ESS_MAP_TEST_STORE").as_deref() != Ok("postgres") {
        return None;
    }
    static SHARED: OnceLock<PostgresServer> = OnceLock::new();
    let pg = SHARED.get_or_init(|| {
        let pg = PostgresServer::start();
        pg.stop_with(std::process::id());
        pg
    });
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    state.hash(&mut hasher);
    let name = format!("state_{:016x}", hasher.finish());
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = CREATING.lock().unwrap_or_else(|e| e.into_inner());
    let exists = format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'");
    if pg.sql_on("postgres", &exists) == "0" {
        pg.sql_on("postgres", &format!("CREATE DATABASE {name}"));
    }
    Some(pg.url.replace("/essmap", &format!("/{name}")))
}

/// `command` on the store of `state` ([`store_for`]).
pub fn with_store(command: &mut Command, state: &std::path::Path) {
    if let Some(url) = store_for(state) {
        command.env("ESS_MAP_STORE", url);
    }
}

/// `ess-map token create` in a state directory: the token.
pub fn create_token(state: &std::path::Path, name: &str, role: &str) -> String {
    create_token_on(state, None, name, role)
}

/// The same in a given store (`postgres://…`), else the state directory's.
pub fn create_token_on(
    state: &std::path::Path,
    store: Option<&str>,
    name: &str,
    role: &str,
) -> String {
    let mut command = ess_map();
    with_store(&mut command, state);
    if let Some(url) = store {
        command.args(["--store", url]);
    }
    let out = command
        .arg("--state")
        .arg(state)
        .args(["token", "create", "--name", name, "--role", role])
        .output()
        .expect("ess-map runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_string()
}

/// The `ess-map` executable, built by cargo (once per test binary).
pub fn binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let output = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "ess-map",
                "--bin",
                "ess-map",
                "--message-format=json",
            ])
            .current_dir(root())
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "cargo build -p ess-map failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
            .next_back()
            .expect("cargo reports the ess-map executable")
    })
}

/// A running `ess-map serve`.
pub struct Server {
    child: Child,
    pub base: String,
    agent: ureq::Agent,
    _state: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts `ess-map serve --listen 127.0.0.1:0 --data <real data>` with a
    /// fresh state directory and waits until it says where it listens.
    pub fn start() -> Server {
        let state = tempfile::tempdir().expect("temporary state directory");
        let mut server = Server::start_with(state.path(), &["--geocoder", "none"]);
        server._state = Some(state);
        server
    }

    /// The same on a given state directory, with more arguments.
    pub fn start_with(state: &std::path::Path, args: &[&str]) -> Server {
        Server::start_on(&data_dir(), state, args)
    }

    /// The same on another data directory (its `manifest.toml` among the
    /// arguments when it has its own).
    pub fn start_on(data: &std::path::Path, state: &std::path::Path, args: &[&str]) -> Server {
        let mut command = Command::new(binary());
        with_store(&mut command, state);
        if !args.contains(&"--config") {
            // A debug build on a loaded machine may take more than the 10 s
            // the product gives an analysis; the tests check answers, and
            // the budget itself with a configuration of its own.
            command.env("ESS_MAP_ANALYSIS_TIMEOUT_S", TEST_ANALYSIS_TIMEOUT_S);
        }
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--state")
            .arg(state)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ess-map starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("ess-map prints its address");
        let base = line
            .trim()
            .strip_prefix("ess-map listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Server {
            child,
            base,
            agent,
            _state: None,
        }
    }

    /// A request with an optional bearer token and body (JSON, or `raw`
    /// bytes with their content type).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Response {
        self.send_with(method, path, token, body, &[])
    }

    /// [`Self::send`] with more headers.
    pub fn send_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Response {
        let url = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = match token {
            Some(t) => request.header("authorization", format!("Bearer {t}")),
            None => request,
        };
        let result = match body {
            Some((content_type, bytes)) => self.agent.run(
                request
                    .header("content-type", content_type)
                    .body(bytes)
                    .unwrap(),
            ),
            None => self.agent.run(request.body(()).unwrap()),
        };
        let response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        Response::from(response)
    }

    /// GET `path`; returns status, content type and body as JSON.
    pub fn get(&self, path: &str) -> Response {
        self.get_with(path, &[])
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        Response::from(response)
    }
}

impl From<ureq::http::Response<ureq::Body>> for Response {
    fn from(mut response: ureq::http::Response<ureq::Body>) -> Response {
        let headers = response.headers().clone();
        let status = response.status().as_u16();
        let bytes = response.body_mut().read_to_vec().expect("body");
        if status >= 500 {
            // Shown with a failing test's output: why the server refused.
            eprintln!("answer {status}: {}", String::from_utf8_lossy(&bytes));
        }
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        Response {
            status,
            content_type: header("content-type"),
            content_encoding: header("content-encoding"),
            etag: header("etag"),
            cache_control: header("cache-control"),
            location: header("location"),
            www_authenticate: header("www-authenticate"),
            access_control_allow_origin: header("access-control-allow-origin"),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            bytes,
            json,
        }
    }
}

impl Server {
    /// The server's process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the server to exit; its status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("the server exits")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub content_encoding: String,
    pub etag: String,
    pub cache_control: String,
    pub location: String,
    pub www_authenticate: String,
    pub access_control_allow_origin: String,
    /// Every header, names in lower case.
    pub headers: std::collections::HashMap<String, String>,
    pub bytes: Vec<u8>,
    pub json: Value,
}

/// A real addok (the engine of the French national address API) with its
/// Redis, on loopback, indexing the documents given (addok's JSON lines).
/// addok and its French plugins are installed from PyPI into
/// `target/addok-venv` the first time; Redis is Debian's `redis-server`.
pub struct AddokServer {
    redis: Child,
    addok: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

/// Pinned: the versions these tests were written against.
const ADDOK_PACKAGES: [&str; 4] = [
    "addok==1.3.2",
    "addok-fr==1.1.0",
    "addok-france==1.2.0",
    "addok-csv==1.1.0",
];

/// A command of Python packages from PyPI (pinned), installed the first time
/// into its own virtual environment `target/<venv>`.
pub fn python_tool(venv: &str, packages: &[&str], command: &str) -> PathBuf {
    // One install at a time in this process (tests run in parallel); a
    // marker written after pip says the install finished (a venv's python
    // exists before its packages do).
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let venv = root().join("target").join(venv);
    let tool = venv.join("bin").join(command);
    let marker = venv.join(format!("installed {}", packages.join(" ")));
    if !marker.is_file() {
        let _ = std::fs::remove_dir_all(&venv);
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .args(packages)
                .status()
                .is_ok_and(|s| s.success());
        assert!(ok, "cannot install {packages:?} into {}", venv.display());
        std::fs::write(&marker, "").expect("venv marker");
    }
    tool
}

impl AddokServer {
    pub fn start(documents_jsonl: &str) -> AddokServer {
        let addok = python_tool("addok-venv", &ADDOK_PACKAGES, "addok");
        let redis_server = ["/usr/bin/redis-server", "/usr/sbin/redis-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file())
            .expect("Debian's redis-server is needed: apt-get install redis-server");
        let dir = tempfile::tempdir().expect("temporary folder");
        let redis_port = free_port();
        let redis = Command::new(redis_server)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &redis_port.to_string()])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        wait_for_port(redis_port);
        let config = dir.path().join("addok_config.py");
        std::fs::write(&config, addok_config(redis_port)).unwrap();
        let documents = dir.path().join("documents.jsonl");
        std::fs::write(&documents, documents_jsonl).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new(&addok)
                .args(args)
                .env("ADDOK_CONFIG_MODULE", &config)
                .output()
                .expect("addok runs");
            assert!(
                out.status.success(),
                "addok {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&["batch", documents.to_str().unwrap()]);
        run(&["ngrams"]);
        let port = free_port();
        let addok = Command::new(&addok)
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .env("ADDOK_CONFIG_MODULE", &config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("addok serve starts");
        wait_for_port(port);
        AddokServer {
            redis,
            addok,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for AddokServer {
    fn drop(&mut self) {
        for child in [&mut self.addok, &mut self.redis] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The configuration of the national address API's addok, French
/// processors included.
fn addok_config(redis_port: u16) -> String {
    format!(
        r#"REDIS = {{"host": "127.0.0.1", "port": {redis_port}, "indexes": {{"db": 0}}, "documents": {{"db": 1}}}}
EXTRA_FIELDS = [{{"key": "citycode"}}]
FILTERS = ["type", "postcode", "citycode", "city"]
BLOCKED_PLUGINS = ["trigrams"]
QUERY_PROCESSORS_PYPATHS = [
    "addok.helpers.text.check_query_length",
    "addok_france.extract_address",
    "addok_france.clean_query",
    "addok_france.remove_leading_zeros",
]
SEARCH_RESULT_PROCESSORS_PYPATHS = [
    "addok.helpers.results.match_housenumber",
    "addok_france.make_labels",
    "addok.helpers.results.score_by_importance",
    "addok.helpers.results.score_by_autocomplete_distance",
    "addok.helpers.results.score_by_ngram_distance",
    "addok.helpers.results.score_by_geo_distance",
    "addok.helpers.results.adjust_scores",
]
PROCESSORS_PYPATHS = [
    "addok.helpers.text.tokenize",
    "addok.helpers.text.normalize",
    "addok_france.glue_ordinal",
    "addok_france.fold_ordinal",
    "addok_france.flag_housenumber",
    "addok.helpers.text.synonymize",
    "addok_fr.phonemicize",
]
"#
    )
}

/// A loopback port free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port} after 10 s");
}

/// A real PostgreSQL server with PostGIS (Debian's packages) on loopback,
/// in a temporary cluster of its own, for the shared store's tests. Run as
/// the `postgres` user when the tests run as root (PostgreSQL refuses
/// root).
pub struct PostgresServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    pub url: String,
}

impl PostgresServer {
    pub fn start() -> PostgresServer {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect(
                "Debian's postgresql is needed: apt-get install postgresql postgresql-15-postgis-3",
            )
            .flatten()
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").is_file())
            .expect("no initdb under /usr/lib/postgresql");
        let dir = tempfile::Builder::new()
            .prefix("ess-map-pg-")
            .tempdir()
            .expect("temporary folder");
        let port = free_port();
        let server = PostgresServer {
            url: format!("postgres://postgres@127.0.0.1:{port}/essmap"),
            dir,
            bin,
            port,
        };
        let data = server.dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        server.chown();
        server.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        server.start_again();
        server.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "-c",
                "CREATE DATABASE essmap",
            ],
        );
        server
    }

    fn running_as_root() -> bool {
        // The uid from /proc: PostgreSQL refuses to run as root.
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .map(|l| l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false)
    }

    fn chown(&self) {
        if Self::running_as_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(self.dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "cannot give the cluster to the postgres user");
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let out = if Self::running_as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            Command::new(&exe).args(args).output()
        }
        .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts (again) the server on its port.
    pub fn start_again(&self) {
        let data = self.dir.path().join("data");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
    }

    /// Stops the server and removes its files once process `pid` has
    /// ended (a static one is never dropped): a watchdog shell.
    pub fn stop_with(&self, pid: u32) {
        let data = self.dir.path().join("data");
        let stop = format!(
            "while [ -e /proc/{pid} ]; do sleep 1; done; {} -D {} -m immediate stop >/dev/null 2>&1; rm -rf {}",
            self.bin.join("pg_ctl").display(),
            data.display(),
            self.dir.path().display()
        );
        let mut watchdog = if Self::running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "sh", "-c", &stop]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &stop]);
            c
        };
        let mut child = watchdog
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the cluster's watchdog starts");
        // Reaped if it ends first; it outlives this process otherwise.
        std::thread::spawn(move || child.wait());
    }

    /// Stops the server at once (as a crash or a network cut would).
    pub fn stop(&self) {
        let data = self.dir.path().join("data");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// The database as GDAL names it (`ogrinfo PG:…`, QGIS's PostGIS source).
    pub fn gdal(&self) -> String {
        format!(
            "PG:host=127.0.0.1 port={} user=postgres dbname=essmap",
            self.port
        )
    }

    /// One SQL statement through `psql`; its output, unaligned.
    pub fn sql(&self, statement: &str) -> String {
        self.sql_on("essmap", statement)
    }

    /// The same in another database of the cluster.
    pub fn sql_on(&self, database: &str, statement: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
                "-At",
                "-c",
                statement,
            ])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let exe = self.bin.join("pg_ctl");
        let args = [
            "-D",
            data.to_str().unwrap_or_default(),
            "-m",
            "immediate",
            "stop",
        ];
        let _ = if Self::running_as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(exe)
                .args(args)
                .output()
        } else {
            Command::new(exe).args(args).output()
        };
    }
}

/// A real SMTP server on loopback (aiosmtpd from PyPI), keeping what it
/// receives in a Maildir (`maildir()`).
pub struct SmtpServer {
    child: std::process::Child,
    pub port: u16,
    maildir: tempfile::TempDir,
    pub python: std::path::PathBuf,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let python = python_tool("aiosmtpd-venv", &["aiosmtpd==1.4.6"], "python");
        let maildir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = std::process::Command::new(&python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        SmtpServer {
            child,
            port,
            maildir,
            python,
        }
    }

    /// The `[smtp]` section of a configuration sending through this server.
    pub fn config(&self) -> String {
        format!(
            "[smtp]\nurl = \"smtp://127.0.0.1:{}\"\nfrom = \"Carte ESS <ne-pas-repondre@carte.example.org>\"\n",
            self.port
        )
    }

    /// The Maildir the messages are kept in.
    pub fn maildir(&self) -> std::path::PathBuf {
        self.maildir.path().join("mail")
    }

    /// The messages received so far: (to, subject, text), as Python's
    /// e-mail parser reads them.
    pub fn messages(&self) -> Vec<(String, String, String)> {
        let out = std::process::Command::new(&self.python)
            .arg(root().join("tests/read_maildir.py"))
            .arg(self.maildir.path().join("mail"))
            .output()
            .unwrap();
        if !out.status.success() {
            return Vec::new();
        }
        serde_json::from_slice::<Vec<(String, String, String)>>(&out.stdout).unwrap_or_default()
    }

    /// Waits for the `n`th message.
    pub fn wait_for(&self, n: usize) -> Vec<(String, String, String)> {
        for _ in 0..100 {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{n} messages expected, {} received", self.messages().len());
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
