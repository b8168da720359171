// End-to-end test of several hubmirror nodes sharing one bucket (README: Blobs in S3-compatible
// object storage; `sync` and the daemon in detail), on a real Ceph RADOS Gateway, behind a real
// nginx, with `@huggingface/hub` as the client. One writer, `hubmirror serve --config` on its own
// data dir, gets a repo by `hubmirror import --config` (60 MiB of weights and small files); two
// serving nodes, each `hubmirror serve --config` on its own data dir with the same `[storage]` and
// the writer as their `[upstream]`, mirror it on their schedule. nginx sends every request to node
// 1 while it answers, to node 2 (a backup server) once it does not, so which node a stream comes
// from is known in advance:
//  - a node's sync publishes the writer's commit without downloading any LFS content (only the
//    small files kept in git, known to it by git id alone) and writes nothing under the bucket's
//    blobs;
//  - the writer and both nodes answer model info, refs and each file's HEAD identically;
//  - through nginx, downloadFile of every file;
//  - node 1 SIGKILLed in the middle of a stream of the weights through nginx: the client's retry
//    with a Range from what it received is answered 206 by node 2, and the bytes put together are
//    the weights'; downloadFile through nginx works afterwards;
//  - a commit imported on the writer later is published by node 2 on its next pass, and
//    `/api/mirror/status` says it is in sync.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror HUBMIRROR_TEST_S3_DIR=DIR node --test s3_nodes.test.mjs
// where DIR is that of `tests/support/ceph_rgw.sh start DIR` (as for s3_storage.test.mjs). Needs
// curl, and nginx: NGINX_BIN, else nginx from PATH, else /usr/sbin/nginx (Debian's nginx-light).
//
// Everything happens on 127.0.0.1; the hubmirror and nginx side in a fresh temporary directory that
// is removed afterwards.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { constants as fsConstants } from "node:fs";
import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";

import { downloadFile } from "@huggingface/hub";

import { BIN, filesUnder, getJson, pseudoRandomBytes, runLogged, serveHubmirror, sha256Hex, useWorkRoot, writeSource } from "../support/harness.mjs";
import { recordingFetch, withTrace } from "./fixture.mjs";
import { s3Helpers } from "./s3_support.mjs";

const REPO = "acme/s3-nodes";
const MiB = 1024 * 1024;
/** Far more than the socket buffers between a node, nginx and the client hold: a stream cut after a few MiB is cut. */
const WEIGHTS = pseudoRandomBytes("s3-nodes/weights", 60 * MiB + 5);
const FILES = {
	"README.md": Buffer.from("---\nlicense: apache-2.0\n---\n\n# s3-nodes\n\nOne writer, two serving nodes, one bucket.\n"),
	"config.json": Buffer.from(JSON.stringify({ model_type: "bert", hidden_size: 64 }, null, 2) + "\n"),
	"model.safetensors": WEIGHTS,
};
/** What the second commit changes: the card and the config, and an LFS file added. */
const CHANGED = {
	"README.md": Buffer.from("---\nlicense: apache-2.0\n---\n\n# s3-nodes\n\nSecond commit.\n"),
	"config.json": Buffer.from(JSON.stringify({ model_type: "bert", hidden_size: 128 }, null, 2) + "\n"),
	"adapter.safetensors": pseudoRandomBytes("s3-nodes/adapter", MiB + 3),
};
const LFS_PATHS = new Set(["model.safetensors", "adapter.safetensors"]);
const PREFIX = "hm";
/** The smallest interval the config accepts: a node's next pass is at most this far away. */
const INTERVAL_SECONDS = 10;
/** Headers that differ between two answers of one server: compared by nobody. */
const PER_REQUEST_HEADERS = new Set(["date", "x-request-id", "connection", "keep-alive"]);
/** Bytes of the weights read from node 1 before it is killed. */
const READ_BEFORE_KILL = 4 * MiB;

/**
 * The gateway, the bucket, the source folder, the writer and the two nodes ({ data, config,
 * server, url } each), nginx in front of the nodes, and the commits the writer published.
 */
const world = { s3: {}, bucket: "", src: "", writer: {}, nodes: [], nginx: undefined, commits: [], bucketAfterImport: [] };
const { listBlobObjects, setUpGateway, storageConfig } = s3Helpers(world, PREFIX);

const resolvePath = (path) => `/${REPO}/resolve/main/${path}`;
const smallFiles = (files) => Object.keys(files).filter((path) => !LFS_PATHS.has(path));

/** `hubmirror import --config` of the source folder into the writer's repo; the commit id it printed. */
async function importSource(t) {
	const { config, data } = world.writer;
	const run = await runLogged(t, ["import", "--config", config, "--data", data, "--repo", REPO, world.src], { timeoutMs: 60_000 });
	assert.equal(run.code, 0, `hubmirror import (exit ${run.code}): ${run.stderr}`);
	const m = /as commit ([0-9a-f]{40})$/m.exec(run.stdout);
	assert.ok(m, `no commit id in: ${run.stdout}`);
	return m[1];
}

/** Polls `url`'s model info until it names `sha`, for at most `ms`; how long it took, in ms. */
async function waitForCommit(url, sha, ms) {
	const start = Date.now();
	let last = "";
	while (Date.now() - start < ms) {
		try {
			const res = await fetch(`${url}/api/models/${REPO}`);
			const text = await res.text();
			if (res.status === 200 && JSON.parse(text).sha === sha) return Date.now() - start;
			last = `${res.status} ${text.slice(0, 300)}`;
		} catch (err) {
			last = String(err?.cause ?? err);
		}
		await sleep(200);
	}
	assert.fail(`${url} did not show commit ${sha} within ${ms / 1000} s; last answer: ${last}`);
}

/** The sha256 of each blob a node keeps in its data dir's blobs/, sorted. */
async function localBlobs(node) {
	return (await filesUnder(join(node.data, "blobs"))).map((path) => basename(path)).sort();
}

/** A HEAD's headers with the per-request ones left out, as a plain object. */
async function headHeaders(url) {
	const res = await fetch(url, { method: "HEAD", redirect: "manual" });
	assert.equal(res.status, 200, `HEAD ${url}`);
	return Object.fromEntries([...res.headers].filter(([name]) => !PER_REQUEST_HEADERS.has(name)));
}

/** Checks that two objects have the same fields with the same values, naming the first field that differs. */
function assertSameFields(actual, expected, what) {
	for (const field of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
		assert.deepEqual(actual[field], expected[field], `${what}: ${field}`);
	}
}

// ---------------------------------------------------------------------------------------------
// nginx in front of the serving nodes
// ---------------------------------------------------------------------------------------------

/** NGINX_BIN, else nginx from PATH, else Debian's /usr/sbin/nginx. */
async function nginxBinary() {
	if (process.env.NGINX_BIN) return process.env.NGINX_BIN;
	for (const dir of [...(process.env.PATH ?? "").split(":").filter(Boolean), "/usr/sbin"]) {
		try {
			await access(join(dir, "nginx"), fsConstants.X_OK);
			return join(dir, "nginx");
		} catch {
			// Not there: the next one.
		}
	}
	throw new Error("nginx not found: set NGINX_BIN");
}

/** A TCP port free on 127.0.0.1 now (nginx cannot be told to take port 0 and say which it got). */
function freePort() {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address();
			server.close(() => resolve(port));
		});
	});
}

const idOf = (flag) =>
	new Promise((resolve, reject) => execFile("id", [flag], (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))));

/**
 * nginx.conf: a proxy on 127.0.0.1:`port` to the nodes' `hosts`, the first one first and the
 * others its backups, which get a request only when the first one fails it (refused, timed out,
 * 502 or 503 before any byte of the answer was sent). No buffering, so that a node's stream
 * reaches the client as it is sent and breaks when the node dies. Each request is logged with the
 * nodes that were tried, in order.
 */
function nginxConfig(dir, port, hosts, user) {
	const [first, ...backups] = hosts;
	return `${user}daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
    worker_connections 256;
}
http {
    log_format upstreams '$request_method $request_uri "$http_range" $status $upstream_addr';
    access_log ${dir}/access.log upstreams;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    upstream hubmirror_nodes {
        server ${first};
${backups.map((host) => `        server ${host} backup;\n`).join("")}    }
    server {
        listen 127.0.0.1:${port};
        location / {
            proxy_pass http://hubmirror_nodes;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Range $http_range;
            proxy_set_header If-Range $http_if_range;
            proxy_buffering off;
            proxy_next_upstream error timeout http_502 http_503;
        }
    }
}
`;
}

/** nginx in front of `nodes`, its files under `dir`: { url, accessLog, errorLog, stop }. */
async function startNginx(dir, nodes) {
	const bin = await nginxBinary();
	await mkdir(dir, { recursive: true });
	// Workers started by root would otherwise drop to "nobody", who cannot write the temp dirs.
	const user = process.getuid?.() === 0 ? `user ${await idOf("-un")} ${await idOf("-gn")};\n` : "";
	const conf = join(dir, "nginx.conf");
	const errorLog = join(dir, "error.log");
	const hosts = nodes.map((node) => new URL(node.url).host);
	for (let attempt = 1; ; ++attempt) {
		const port = await freePort();
		await writeFile(conf, nginxConfig(dir, port, hosts, user));
		const child = spawn(bin, ["-p", `${dir}/`, "-e", errorLog, "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
		let stderr = "";
		child.stderr.setEncoding("utf8").on("data", (s) => (stderr += s));
		// The master stops its workers on SIGTERM; a SIGKILLed master would leave them running.
		const killOnExit = () => child.kill("SIGTERM");
		process.on("exit", killOnExit);
		const url = `http://127.0.0.1:${port}`;
		const running = () => child.exitCode === null && child.signalCode === null;
		for (let i = 0; i < 100 && running(); ++i) {
			// Any HTTP answer means it listens.
			const answered = await fetch(`${url}/api/models/${REPO}`).then((res) => res.arrayBuffer().then(() => true), () => false);
			if (answered) {
				return {
					url,
					accessLog: join(dir, "access.log"),
					errorLog,
					async stop() {
						process.off("exit", killOnExit);
						if (!running()) return;
						const exited = once(child, "exit");
						child.kill("SIGTERM");
						const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
						await exited;
						clearTimeout(timer);
					},
				};
			}
			await sleep(100);
		}
		process.off("exit", killOnExit);
		if (running()) child.kill("SIGTERM");
		const log = await readFile(errorLog, "utf8").catch(() => "");
		// Another process may take the port between freePort and nginx's bind: then another port.
		if (attempt < 3 && /Address already in use/.test(stderr + log)) continue;
		throw new Error(`nginx did not start on ${url}: ${stderr}${log}`);
	}
}

// ---------------------------------------------------------------------------------------------
// The writer, the nodes and nginx
// ---------------------------------------------------------------------------------------------

/** The writer's config: the bucket, whose bytes the server sends itself, as the kill test needs. */
const writerConfig = () => storageConfig('serve = "stream"\n');

/** A node's config: the writer's `[storage]`, the writer as upstream, the repo mirrored. */
function nodeConfig() {
	return `${writerConfig()}
[upstream]
url = ${JSON.stringify(world.writer.url)}

[schedule]
interval_seconds = ${INTERVAL_SECONDS}

[[mirror]]
repo = ${JSON.stringify(REPO)}
`;
}

/** `hubmirror serve --config` of an instance ({ data, config }), filled in with its server and URL. */
async function serveInstance(instance) {
	instance.server = await serveHubmirror(BIN, instance.data, { args: ["--config", instance.config], keepStderr: 20_000 });
	instance.url = instance.server.url;
	return instance;
}

useWorkRoot("hubmirror-e2e-s3-nodes-", {
	timeout: 60_000,
	async setup(root, t) {
		await setUpGateway("hm-nodes");
		world.src = root.dir("src");
		await writeSource(world.src, Object.entries(FILES));
		world.writer = { data: root.dir("writer"), config: root.dir("writer.toml") };
		await writeFile(world.writer.config, writerConfig());
		world.commits.push(await importSource(t));
		world.bucketAfterImport = await listBlobObjects();
		await serveInstance(world.writer);
		for (const n of [1, 2]) {
			const node = { data: root.dir(`node${n}`), config: root.dir(`node${n}.toml`) };
			await writeFile(node.config, nodeConfig());
			world.nodes.push(await serveInstance(node));
		}
		world.nginx = await startNginx(root.dir("nginx"), world.nodes);
	},
	async teardown() {
		await world.nginx?.stop();
		for (const instance of [...world.nodes, world.writer]) await instance.server?.stop();
	},
});

describe("one writer and two serving nodes on one bucket of a Ceph RADOS Gateway, behind nginx", () => {
	test("each node's first pass publishes the writer's commit, downloading no LFS content and writing no blob", { timeout: 60_000 }, async (t) => {
		const [commit] = world.commits;
		for (const [i, node] of world.nodes.entries()) {
			const ms = await waitForCommit(node.url, commit, 20_000);
			t.diagnostic(`node ${i + 1} published ${commit} ${ms} ms after the wait began`);
		}
		// The tree names an LFS file by its sha256, which is the object's name in the bucket, so
		// the weights are never fetched; a small file is named by its git blob id only, which a
		// fresh node cannot map to a sha256 without its bytes, so those few bytes come from the writer.
		const small = smallFiles(FILES).map((path) => sha256Hex(FILES[path])).sort();
		for (const [i, node] of world.nodes.entries()) {
			assert.deepEqual(await localBlobs(node), small, `node ${i + 1}'s blobs/ after its sync: the small files only`);
		}
		assert.deepEqual(await listBlobObjects(), world.bucketAfterImport, "the bucket's blobs after the nodes' syncs (none added or written again)");
	});

	test("the writer and both nodes answer model info, refs and each file's HEAD identically", { timeout: 60_000 }, async () => {
		const [commit] = world.commits;
		const answers = async ({ url }) => ({
			info: await getJson(`${url}/api/models/${REPO}`),
			refs: await getJson(`${url}/api/models/${REPO}/refs`),
			heads: Object.fromEntries(await Promise.all(Object.keys(FILES).map(async (path) => [path, await headHeaders(url + resolvePath(path))]))),
		});
		const writer = await answers(world.writer);
		assert.equal(writer.info.sha, commit, "the writer's model info");
		assert.equal(writer.refs.branches.find((b) => b.name === "main")?.targetCommit, commit, "the writer's main");
		for (const [path, content] of Object.entries(FILES)) {
			const head = writer.heads[path];
			assert.equal(head["x-repo-commit"], commit, `${path}: the writer's X-Repo-Commit`);
			if (LFS_PATHS.has(path)) {
				assert.equal(head["x-linked-etag"], `"${sha256Hex(content)}"`, `${path}: the writer's X-Linked-Etag`);
				assert.equal(head["x-linked-size"], String(content.length), `${path}: the writer's X-Linked-Size`);
			}
			assert.ok(head.etag, `${path}: the writer's ETag`);
		}
		for (const [i, node] of world.nodes.entries()) {
			const answered = await answers(node);
			assertSameFields(answered.info, writer.info, `node ${i + 1}'s model info`);
			assert.deepEqual(answered.refs, writer.refs, `node ${i + 1}'s refs`);
			for (const path of Object.keys(FILES)) assertSameFields(answered.heads[path], writer.heads[path], `node ${i + 1}'s HEAD of ${path}`);
		}
	});

	test("through nginx, downloadFile sends every file", { timeout: 60_000 }, async (t) => {
		await withTrace(t, async () => {
			for (const [path, content] of Object.entries(FILES)) {
				const blob = await downloadFile({ repo: REPO, path, hubUrl: world.nginx.url, fetch: recordingFetch });
				assert.ok(blob, `${path}: downloadFile found nothing`);
				assert.equal(sha256Hex(Buffer.from(await blob.arrayBuffer())), sha256Hex(content), `${path}: sha256 of downloadFile through nginx`);
			}
		});
	});

	test("node 1 killed in the middle of a stream: the client's Range retry is answered by node 2, every byte right", { timeout: 60_000 }, async (t) => {
		const [node1, node2] = world.nodes;
		const url = world.nginx.url + resolvePath("model.safetensors");
		const logStart = (await readFile(world.nginx.accessLog)).length;
		const chunks = [];
		let received = 0;
		/** Checks each chunk against the weights where it belongs: never a wrong byte. */
		const keep = (chunk) => {
			assert.ok(Buffer.from(chunk).equals(WEIGHTS.subarray(received, received + chunk.length)), `bytes ${received}-${received + chunk.length - 1} differ from the weights'`);
			chunks.push(chunk);
			received += chunk.length;
		};

		const first = await fetch(url);
		assert.equal(first.status, 200, "the weights through nginx");
		assert.equal(first.headers.get("content-length"), String(WEIGHTS.length));
		const reader = first.body.getReader();
		while (received < READ_BEFORE_KILL) {
			const { done, value } = await reader.read();
			assert.ok(!done, `the stream ended after ${received} bytes`);
			keep(value);
		}
		process.kill(node1.server.pid, "SIGKILL");
		for (let i = 0; i < 250 && node1.server.alive(); ++i) await sleep(20);
		assert.ok(!node1.server.alive(), "node 1 is gone");
		let broken;
		try {
			for (;;) {
				const { done, value } = await reader.read();
				if (done) break;
				keep(value);
			}
		} catch (err) {
			broken = err;
		}
		t.diagnostic(`the stream broke after ${received} of ${WEIGHTS.length} bytes: ${broken?.cause?.message ?? broken?.message}`);
		assert.ok(broken && received < WEIGHTS.length, `the stream from the dead node ended without an error after ${received} bytes`);

		// What huggingface_hub does on a broken download: the rest, from where it stopped.
		const resumeAt = received;
		const rest = await fetch(url, { headers: { Range: `bytes=${resumeAt}-` } });
		assert.equal(rest.status, 206, `the retry with Range: bytes=${resumeAt}-`);
		assert.equal(rest.headers.get("content-range"), `bytes ${resumeAt}-${WEIGHTS.length - 1}/${WEIGHTS.length}`);
		for (const header of ["etag", "x-repo-commit", "x-linked-etag", "x-linked-size"]) {
			assert.equal(rest.headers.get(header), first.headers.get(header), `the retry's ${header} is the first answer's`);
		}
		keep(Buffer.from(await rest.arrayBuffer()));
		assert.equal(received, WEIGHTS.length, "the bytes put together");
		assert.equal(sha256Hex(Buffer.concat(chunks)), sha256Hex(WEIGHTS), "sha256 of the bytes put together");

		// nginx says which node answered what: the stream node 1 alone, the retry node 2 (after
		// node 1, if nginx still tried it).
		const node1Addr = new URL(node1.url).host;
		const node2Addr = new URL(node2.url).host;
		const log = (await readFile(world.nginx.accessLog, "utf8")).slice(logStart).split("\n");
		const path = resolvePath("model.safetensors");
		assert.ok(log.includes(`GET ${path} "-" 200 ${node1Addr}`), `the stream was node 1's:\n${log.join("\n")}`);
		assert.ok(
			log.some((l) => l.startsWith(`GET ${path} "bytes=${resumeAt}-" 206 `) && l.endsWith(` ${node2Addr}`)),
			`the retry was node 2's:\n${log.join("\n")}`,
		);

		await withTrace(t, async () => {
			const blob = await downloadFile({ repo: REPO, path: "model.safetensors", hubUrl: world.nginx.url, fetch: recordingFetch });
			assert.ok(blob, "downloadFile found nothing");
			assert.equal(sha256Hex(Buffer.from(await blob.arrayBuffer())), sha256Hex(WEIGHTS), "sha256 of downloadFile through nginx with node 1 gone");
		});
	});

	test("a commit imported on the writer is published by node 2 on its next pass, in sync", { timeout: 60_000 }, async (t) => {
		const node2 = world.nodes[1];
		await writeSource(world.src, Object.entries(CHANGED));
		const commit = await importSource(t);
		assert.notEqual(commit, world.commits[0], "the import made a new commit");
		world.commits.push(commit);
		assert.equal((await getJson(`${world.writer.url}/api/models/${REPO}`)).sha, commit, "the writer's model info");
		const bucketAfterImport = await listBlobObjects();
		const adapterKey = `${PREFIX}/blobs/${sha256Hex(CHANGED["adapter.safetensors"])}`;
		assert.ok(bucketAfterImport.some((o) => o.key === adapterKey), `the import put ${adapterKey} in the bucket`);

		// A pass every INTERVAL_SECONDS: the next one comes within that, its sync in far less.
		const ms = await waitForCommit(node2.url, commit, (INTERVAL_SECONDS + 15) * 1000);
		t.diagnostic(`node 2 published ${commit} ${ms} ms after the import`);
		const status = await getJson(`${node2.url}/api/mirror/status`);
		const entry = status.repos.find((r) => r.type === "model" && r.id === REPO);
		t.diagnostic(`node 2's /api/mirror/status for ${REPO}: ${JSON.stringify(entry)}`);
		assert.ok(entry, `node 2's /api/mirror/status lists ${REPO}: ${JSON.stringify(status)}`);
		assert.equal(entry.in_sync, true, "in_sync");
		assert.equal(entry.local_commit, commit, "local_commit");
		assert.equal(entry.upstream_commit, commit, "upstream_commit");
		assert.equal(entry.upstream, world.writer.url, "upstream");
		assert.equal(entry.source, "sync", "source");
		assert.equal(entry.last_error, null, "last_error");
		assert.equal(entry.stale, false, "stale");

		// Metadata again: the new small files' bytes came from the writer, the adapter's did not.
		const local = await localBlobs(node2);
		for (const path of smallFiles(CHANGED)) assert.ok(local.includes(sha256Hex(CHANGED[path])), `node 2's blobs/ has the new ${path}`);
		assert.ok(!local.includes(sha256Hex(CHANGED["adapter.safetensors"])), "node 2 downloaded the new LFS file");
		assert.deepEqual(await listBlobObjects(), bucketAfterImport, "the bucket's blobs after node 2's sync (none added or written again)");

		// And through nginx, from node 2: the new commit, and the new file from the bucket.
		assert.equal((await getJson(`${world.nginx.url}/api/models/${REPO}`)).sha, commit, "the model info through nginx");
		await withTrace(t, async () => {
			for (const [path, content] of Object.entries(CHANGED)) {
				const blob = await downloadFile({ repo: REPO, path, hubUrl: world.nginx.url, fetch: recordingFetch });
				assert.ok(blob, `${path}: downloadFile found nothing`);
				assert.equal(sha256Hex(Buffer.from(await blob.arrayBuffer())), sha256Hex(content), `${path}: sha256 of downloadFile of the new commit`);
			}
		});
	});
});
