// `GET /metrics` and `GET /readyz` of `hubmirror serve`: after requests of several route families,
// the exposition is what `promtool check metrics` accepts without a complaint, counts each request
// under its family and status code, keeps its latency histogram cumulative, and names no repo or
// path in any label; a real Prometheus scrapes it; /readyz turns 503 when the data dir's tmp/
// cannot be written.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test metrics.test.mjs
//
// Needs `prometheus` and `promtool` on PATH (deploy/install-deps.sh installs them). Everything runs
// on 127.0.0.1, in a temporary directory removed afterwards.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { chmod, copyFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

import { BIN, importRepo, serveHubmirror, useWorkRoot, writeSource } from "../support/harness.mjs";

const work = useWorkRoot("hubmirror-metrics-");

const REPO = "acme/metrics-model";
const CONFIG = "config.json";
const NOTES = "docs/notes.txt";
const FAMILIES = ["file", "repo_info", "tree", "refs", "commits", "list", "lineage", "integrity", "status", "access", "whoami", "admin", "health", "metrics", "telemetry", "publish", "page", "unmatched"];

// One keep-alive connection for every request: the server counts a request once its response is
// written, before it reads the next one from that connection, so /metrics sees every earlier one.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(url) {
	return new Promise((resolve, reject) => {
		http.get(url, { agent }, (res) => {
			const chunks = [];
			res.on("data", (c) => chunks.push(c));
			res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
			res.on("error", reject);
		}).on("error", reject);
	});
}

/** Runs `cmd args` with `input` on its stdin; its exit code and output. */
function runTool(cmd, args, input) {
	return new Promise((resolve, reject) => {
		const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
		let out = "";
		child.stdout.setEncoding("utf8").on("data", (s) => (out += s));
		child.stderr.setEncoding("utf8").on("data", (s) => (out += s));
		child.once("error", reject);
		child.once("close", (code) => resolve({ code, out }));
		child.stdin.end(input);
	});
}

/** The samples of an exposition: { name, labels: {k: v}, value }. */
function parseSamples(text) {
	const samples = [];
	for (const line of text.split("\n")) {
		if (line === "" || line.startsWith("#")) continue;
		const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
		assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
		const labels = {};
		for (const [, k, v] of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
		samples.push({ name: m[1], labels, value: Number(m[3]) });
	}
	return samples;
}

/** A TCP port free on 127.0.0.1 now. */
async function freePort() {
	const server = net.createServer().listen(0, "127.0.0.1");
	await once(server, "listening");
	const { port } = server.address();
	server.close();
	await once(server, "close");
	return port;
}

/**
 * `hubmirror serve` on a data dir holding REPO, and that dir: as root, a copy of BIN run as
 * `nobody` on a data dir owned by nobody, since root writes wherever the permissions say not to
 * and /readyz could then never see an unwritable tmp/.
 */
async function unprivilegedServer(t) {
	const src = work.dir("src");
	await writeSource(src, [
		[CONFIG, `{"model_type": "metrics"}\n`],
		[NOTES, "notes in a sub-folder\n"],
	]);
	const data = work.dir("data");
	await importRepo(t, data, src, REPO);
	if (process.getuid() !== 0) return { data, server: await serveHubmirror(BIN, data) };
	await chmod(work.path, 0o755);
	const binary = join(work.path, "hubmirror");
	await copyFile(BIN, binary);
	await chmod(binary, 0o755);
	const wrapper = join(work.path, "hubmirror-as-nobody");
	await writeFile(wrapper, `#!/bin/sh\nexec setpriv --reuid=nobody --regid=nogroup --clear-groups -- '${binary}' "$@"\n`, { mode: 0o755 });
	await promisify(execFile)("chown", ["-R", "nobody:nogroup", data]);
	return { data, server: await serveHubmirror(wrapper, data) };
}

/** Polls `check()` until it returns a truthy value (which is returned) or `ms` pass. */
async function eventually(what, ms, check) {
	const deadline = Date.now() + ms;
	let last;
	for (;;) {
		try {
			const v = await check();
			if (v) return v;
		} catch (err) {
			last = err;
		}
		if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms (${last?.message ?? "no error"})`);
		await sleep(250);
	}
}

test("metrics count requests by family, pass promtool, are scraped by Prometheus; readyz follows tmp/", { timeout: 60_000 }, async (t) => {
	const { data, server } = await unprivilegedServer(t);
	try {
		const base = `${server.url}/${REPO}`;
		assert.equal((await get(`${base}/resolve/main/${CONFIG}`)).status, 200);
		assert.equal((await get(`${base}/resolve/main/${NOTES}`)).status, 200);
		assert.equal((await get(`${base}/resolve/main/no-such-file.txt`)).status, 404);
		assert.equal((await get(`${server.url}/api/models/${REPO}`)).status, 200);
		const ready = await get(`${server.url}/readyz`);
		assert.equal(ready.status, 200);
		assert.deepEqual(JSON.parse(ready.body), { status: "ready" });

		// (a) The exposition itself.
		const res = await get(`${server.url}/metrics`);
		assert.equal(res.status, 200);
		assert.match(res.headers["content-type"], /^text\/plain; version=0\.0\.4(;|$)/);
		const lint = await runTool("promtool", ["check", "metrics"], res.body);
		assert.equal(lint.code, 0, `promtool check metrics failed: ${lint.out}`);
		assert.equal(lint.out, "", "promtool check metrics must have no complaint");

		const samples = parseSamples(res.body);
		const requests = samples.filter((s) => s.name === "hubmirror_http_requests_total").map((s) => [s.labels.route, s.labels.code, s.value]);
		assert.deepEqual(
			requests.sort(),
			[
				["file", "200", 2],
				["file", "404", 1],
				["health", "200", 1],
				["repo_info", "200", 1],
			],
			"hubmirror_http_requests_total",
		);
		const histogram = "hubmirror_http_request_duration_seconds";
		const routes = new Set(samples.filter((s) => s.name === `${histogram}_count`).map((s) => s.labels.route));
		assert.ok(routes.has("file"), "a latency histogram for the file family");
		for (const route of routes) {
			const buckets = samples.filter((s) => s.name === `${histogram}_bucket` && s.labels.route === route);
			assert.equal(buckets.at(-1).labels.le, "+Inf", `${route}: the last bucket`);
			for (let i = 1; i < buckets.length; ++i) {
				const [low, high] = [buckets[i - 1], buckets[i]].map((b) => (b.labels.le === "+Inf" ? Infinity : Number(b.labels.le)));
				assert.ok(high > low, `${route}: bucket bounds ascend`);
				assert.ok(buckets[i].value >= buckets[i - 1].value, `${route}: buckets are cumulative`);
			}
			const count = samples.find((s) => s.name === `${histogram}_count` && s.labels.route === route).value;
			assert.equal(buckets.at(-1).value, count, `${route}: +Inf equals _count`);
			const answered = requests.filter(([r]) => r === route).reduce((n, [, , v]) => n + v, 0);
			assert.equal(count, answered, `${route}: _count equals the requests answered`);
		}
		for (const s of samples) {
			for (const [k, v] of Object.entries(s.labels)) {
				for (const name of [REPO, "acme", "metrics-model", CONFIG, NOTES, "notes.txt", "no-such-file", "/"]) {
					assert.ok(!v.includes(name), `${s.name}: label ${k}="${v}" names ${name}`);
				}
				if (k === "route") assert.ok(FAMILIES.includes(v), `${s.name}: route "${v}" is not a documented family`);
			}
		}

		// (b) A real Prometheus scrapes it.
		const promDir = work.dir("prometheus");
		await writeSource(promDir, [
			[
				"prometheus.yml",
				`global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: hubmirror\n    metrics_path: /metrics\n` +
					`    static_configs:\n      - targets: ["${new URL(server.url).host}"]\n`,
			],
		]);
		const promUrl = `http://127.0.0.1:${await freePort()}`;
		const prometheus = spawn(
			"prometheus",
			[`--config.file=${join(promDir, "prometheus.yml")}`, `--storage.tsdb.path=${join(promDir, "tsdb")}`, `--web.listen-address=${new URL(promUrl).host}`],
			{ stdio: ["ignore", "ignore", "pipe"] },
		);
		let promLog = "";
		prometheus.stderr.setEncoding("utf8").on("data", (s) => (promLog = (promLog + s).slice(-4000)));
		const exited = once(prometheus, "exit");
		try {
			const query = async (q) => {
				const body = await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`)).json();
				assert.equal(body.status, "success");
				return body.data.result;
			};
			await eventually("Prometheus scrapes hubmirror", 20_000, async () => {
				assert.equal(prometheus.exitCode, null, `prometheus exited: ${promLog}`);
				const up = await query('up{job="hubmirror"}');
				return up.length === 1 && up[0].value[1] === "1";
			}).catch((err) => assert.fail(`${err.message}\nprometheus: ${promLog}`));
			const scraped = await query('hubmirror_http_requests_total{job="hubmirror"}');
			const files = scraped.find((r) => r.metric.route === "file" && r.metric.code === "200");
			assert.equal(files?.value[1], "2", `scraped series: ${JSON.stringify(scraped)}`);
		} finally {
			if (prometheus.exitCode === null && prometheus.signalCode === null) {
				prometheus.kill("SIGTERM");
				const timer = setTimeout(() => prometheus.kill("SIGKILL"), 10_000);
				await exited;
				clearTimeout(timer);
			}
			await rm(promDir, { recursive: true, force: true });
		}

		// /readyz follows whether tmp/ can be written.
		const tmp = join(data, "tmp");
		await chmod(tmp, 0o555);
		try {
			const notReady = await get(`${server.url}/readyz`);
			assert.equal(notReady.status, 503, notReady.body);
			assert.equal(JSON.parse(notReady.body).status, "not ready");
			assert.ok(JSON.parse(notReady.body).reason, "a reason");
		} finally {
			await chmod(tmp, 0o755);
		}
		assert.equal((await get(`${server.url}/readyz`)).status, 200, "ready again once tmp/ is writable");
	} finally {
		agent.destroy();
		await server.stop();
	}
});
