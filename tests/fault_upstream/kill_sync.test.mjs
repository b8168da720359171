// Kill test for `hubmirror sync`: the sync is SIGKILLed at several points of a slow mirror and
// restarted each time, until a run completes. Meanwhile a second `hubmirror serve` on the mirror's
// data dir (the "reader") is polled without pause, as a client of the mirror would.
//
// The upstream is a real `hubmirror` (import + serve), reached through a small HTTP relay in this
// file that paces file bodies (so that every run lasts long enough to be killed mid-transfer even
// where `--limit-rate` does not hold the rate) and records each request: its Range and the bytes
// it sent.
//
// What must hold:
// - the reader never sees a partial revision: whenever the repo's info answers 200, it lists every
//   file and each one resolves, at the commit the info reported, to the source's bytes;
// - a run after a kill resumes each interrupted file from exactly the bytes its partial kept (no
//   byte lost, none skipped), and at least one file is really resumed;
// - the partials a kill leaves behind are prefixes of the right files;
// - the restarts converge (exit 0), a further sync is up to date and downloads nothing;
// - every blob in the store hashes to its own name, the store holds exactly the repo's content,
//   and tmp/ is empty (no partial or temporary file outlives the sync);
// - the mirror serves every file byte for byte.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test kill_sync.test.mjs
//
// The binary is copied first (the build may relink it meanwhile). Everything runs on 127.0.0.1
// with port 0, in a temporary directory removed afterwards.

import assert from "node:assert/strict";
import { once } from "node:events";
import { chmod, copyFile, readFile, stat } from "node:fs/promises";
import http from "node:http";
import { join, relative, sep } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { BIN, checkBinary, diagnoseOutput, encodePath, filesUnder, gitBlobSha1, pseudoRandomBytes, runHubmirror, serveHubmirror, sha256Hex, sha256OfFile, useWorkRoot, writeSource } from "../support/harness.mjs";

const REPO = "acme/killme";
const MiB = 1024 * 1024;

// Bytes per second per file body, paced by the relay; with --concurrency 2 a whole run takes
// about 2.5 s. --limit-rate is passed too, above the pace, so whichever is slower governs.
const PACE_BYTES_PER_SECOND = 8 * MiB;
const LIMIT_RATE = String(24_000_000);
const CONCURRENCY = "2";

// When each run is killed: on the first byte it prints, right after it reports the first file
// stored (the blob is in the store, nothing is published; after 1.5 s if it never says so), after
// fixed delays, and right after it reports the last file stored (about when it publishes). Runs
// past the schedule are left to finish.
const KILL_SCHEDULE = [
	{ label: "first output", output: (out) => out.length > 0 },
	{ label: "first file stored", output: (out) => /: stored /.test(out), ms: 1500 },
	{ label: "150 ms", ms: 150 },
	{ label: "400 ms", ms: 400 },
	{ label: "1 s", ms: 1000 },
	{ label: "2 s", ms: 2000 },
	{ label: "last file stored", output: allFilesStored },
];
const MAX_RUNS = KILL_SCHEDULE.length + 3;
const RUN_TIMEOUT_MS = 30_000;

/** True once the sync's log reports as many files stored as it said it would download. */
function allFilesStored(out) {
	const planned = /downloading (\d+) files/.exec(out);
	return planned !== null && (out.match(/: stored /g)?.length ?? 0) >= Number(planned[1]);
}

/** @type {Set<http.Server>} */
const servers = new Set();
const work = useWorkRoot("hubmirror-kill-");
let bin;

// ---------------------------------------------------------------------------------------------
// The repo: LFS weights of 4-12 MiB at odd sizes, small git-stored files in subfolders. No two
// files have the same content, so each file has a partial of its own.
// ---------------------------------------------------------------------------------------------

function smallJson(seed, entries) {
	const body = {};
	for (let i = 0; i < entries; i++) body[`k${i}`] = pseudoRandomBytes(`${seed}/${i}`, 24).toString("hex");
	return Buffer.from(JSON.stringify(body, null, 1) + "\n");
}

function repoFiles() {
	const files = [
		{ path: "model-00001-of-00002.safetensors", content: pseudoRandomBytes("kill/m1", 11 * MiB + 7) },
		{ path: "model-00002-of-00002.safetensors", content: pseudoRandomBytes("kill/m2", 9 * MiB + 4093) },
		{ path: "pytorch_model.bin", content: pseudoRandomBytes("kill/pt", 8 * MiB + 1) },
		{ path: "onnx/decoder.bin", content: pseudoRandomBytes("kill/onnx", 6 * MiB + 511) },
		{ path: "adapters/lora/adapter_model.safetensors", content: pseudoRandomBytes("kill/lora", 4 * MiB + 3) },
		{ path: "README.md", content: Buffer.from(`---\nlicense: mit\n---\n\n# ${REPO}\n\nKilled and restarted.\n`) },
		{ path: "config.json", content: smallJson("kill/config", 20) },
		{ path: "generation_config.json", content: smallJson("kill/generation", 5) },
		{ path: "tokenizer/tokenizer.json", content: smallJson("kill/tokenizer", 6000) }, // ~400 KiB, git-stored
		{ path: "tokenizer/special_tokens_map.json", content: smallJson("kill/special", 4) },
		{ path: "docs/notes/changelog.txt", content: Buffer.from(pseudoRandomBytes("kill/notes", 3000).toString("base64") + "\n") },
	];
	for (const f of files) {
		f.size = f.content.length;
		f.sha256 = sha256Hex(f.content);
		f.gitSha1 = gitBlobSha1(f.content);
		// The store names a resumable partial by the expected digest (sha256 for LFS files, the
		// git blob sha1 for the others) and the size.
		f.partialNames = new Set([`partial-${f.sha256}-${f.size}`, `partial-${f.gitSha1}-${f.size}`]);
	}
	return files;
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/**
 * One `hubmirror sync` run, SIGKILLed as `kill` says: as soon as its output matches `kill.output`,
 * or `kill.ms` after the spawn, whichever comes first. A null `kill`: left to finish.
 */
async function syncOnce(dataDir, upstreamUrl, kill) {
	const args = [
		"sync",
		"--data",
		dataDir,
		"--upstream",
		upstreamUrl,
		"--limit-rate",
		LIMIT_RATE,
		"--concurrency",
		CONCURRENCY,
		"--stall-timeout",
		"10",
		REPO,
	];
	const run = await runHubmirror(bin, args, { timeoutMs: RUN_TIMEOUT_MS, kill });
	return { ...run, kill, killedByTest: run.killedAtMs !== null && run.signal === "SIGKILL" };
}

// ---------------------------------------------------------------------------------------------
// The relay between the sync and its upstream: paces file bodies, records every request
// ---------------------------------------------------------------------------------------------

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"]);

function drainedOrClosed(res) {
	return new Promise((resolve) => {
		const done = () => {
			res.off("drain", done);
			res.off("close", done);
			resolve();
		};
		res.on("drain", done);
		res.on("close", done);
	});
}

async function startRelay(upstreamUrl) {
	const target = new URL(upstreamUrl);
	const log = [];
	const relay = { url: "", log, run: -1 };
	const server = http.createServer((req, res) => {
		const entry = {
			run: relay.run,
			method: req.method,
			url: req.url,
			range: req.headers.range ?? null,
			status: null,
			bytes: 0,
			complete: false,
		};
		log.push(entry);
		const headers = { ...req.headers, host: target.host };
		for (const h of HOP_BY_HOP) delete headers[h];
		const upstreamReq = http.request(
			{ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: false },
			async (upstreamRes) => {
				entry.status = upstreamRes.statusCode;
				const out = {};
				for (const [k, v] of Object.entries(upstreamRes.headers)) if (!HOP_BY_HOP.has(k)) out[k] = v;
				res.writeHead(upstreamRes.statusCode, out);
				const paced = req.url.includes("/resolve/");
				const startedAt = Date.now();
				try {
					for await (const chunk of upstreamRes) {
						for (let at = 0; at < chunk.length; at += 64 * 1024) {
							const piece = chunk.subarray(at, at + 64 * 1024);
							if (paced) {
								const due = startedAt + ((entry.bytes + piece.length) / PACE_BYTES_PER_SECOND) * 1000;
								if (due > Date.now()) await sleep(due - Date.now());
							}
							if (res.destroyed) throw new Error("client went away");
							entry.bytes += piece.length;
							if (!res.write(piece)) await drainedOrClosed(res);
						}
					}
					res.end();
					entry.complete = true;
				} catch {
					upstreamRes.destroy();
					res.destroy();
				}
			},
		);
		upstreamReq.on("error", () => res.destroy());
		res.on("close", () => {
			if (!entry.complete) upstreamReq.destroy();
		});
		req.pipe(upstreamReq);
	});
	servers.add(server);
	server.listen(0, "127.0.0.1");
	await once(server, "listening");
	relay.url = `http://127.0.0.1:${server.address().port}`;
	relay.close = () => {
		servers.delete(server);
		server.closeAllConnections();
		return new Promise((resolve) => server.close(() => resolve()));
	};
	return relay;
}

/** The repo path of a `/ORG/NAME/resolve/REV/PATH` request, or null for other requests. */
function resolvedPath(url) {
	const prefix = `/${REPO}/resolve/`;
	const pathname = url.split("?")[0];
	if (!pathname.startsWith(prefix)) return null;
	const rest = pathname.slice(prefix.length);
	return rest.slice(rest.indexOf("/") + 1).split("/").map(decodeURIComponent).join("/");
}

function rangeStart(range) {
	if (range === null) return 0;
	const m = /^bytes=(\d+)-$/.exec(range);
	return m ? Number(m[1]) : NaN;
}

// ---------------------------------------------------------------------------------------------
// The reader: polls the mirror for the whole test, records any partial revision it is shown
// ---------------------------------------------------------------------------------------------

function startReader(url, files, expectedCommit, currentRun) {
	const byPath = new Map(files.map((f) => [f.path, f]));
	const state = { polls: 0, notFound: 0, published: 0, verified: 0, firstPublishedRun: null, violations: [], stop: false };
	const violation = (what) => state.violations.push(`run ${currentRun()}: ${what}`);
	state.done = (async () => {
		while (!state.stop) {
			state.polls++;
			let res;
			try {
				res = await fetch(`${url}/api/models/${REPO}`);
			} catch (err) {
				violation(`GET /api/models/${REPO} failed: ${err.cause?.message ?? err.message}`);
				await sleep(50);
				continue;
			}
			if (res.status === 404) {
				await res.arrayBuffer();
				if (res.headers.get("x-error-code") !== "RepoNotFound") {
					violation(`404 without X-Error-Code RepoNotFound (got ${res.headers.get("x-error-code")})`);
				}
				state.notFound++;
				await sleep(10);
				continue;
			}
			if (res.status !== 200) {
				violation(`GET /api/models/${REPO} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
				await sleep(20);
				continue;
			}
			const info = await res.json();
			state.published++;
			if (state.firstPublishedRun === null) state.firstPublishedRun = currentRun();
			const sha = info.sha;
			if (sha !== expectedCommit) violation(`info sha ${sha}, expected the upstream commit ${expectedCommit}`);
			const listed = (info.siblings ?? []).map((s) => s.rfilename).sort();
			const expected = [...byPath.keys()].sort();
			if (JSON.stringify(listed) !== JSON.stringify(expected)) {
				violation(`revision ${sha} lists ${listed.length} files, the source has ${expected.length}: ${JSON.stringify(listed)}`);
			}
			let ok = true;
			for (const path of listed) {
				const file = byPath.get(path);
				let r;
				try {
					r = await fetch(`${url}/${REPO}/resolve/${sha}/${encodePath(path)}`);
				} catch (err) {
					violation(`resolve ${path} at ${sha} failed: ${err.cause?.message ?? err.message}`);
					ok = false;
					continue;
				}
				const body = Buffer.from(await r.arrayBuffer());
				if (r.status !== 200) {
					violation(`resolve ${path} at ${sha} answered ${r.status}: ${body.toString("utf8", 0, 200)}`);
					ok = false;
				} else if (!file) {
					violation(`revision ${sha} lists ${path}, which is not in the source`);
					ok = false;
				} else if (body.length !== file.size || sha256Hex(body) !== file.sha256) {
					violation(`resolve ${path} at ${sha}: ${body.length} bytes, sha256 ${sha256Hex(body)}; source ${file.size} bytes, ${file.sha256}`);
					ok = false;
				}
			}
			if (ok) state.verified++;
			await sleep(100);
		}
	})();
	return state;
}

// ---------------------------------------------------------------------------------------------
// The data dir
// ---------------------------------------------------------------------------------------------

/** Name and size of every entry in DIR/tmp. */
async function tmpEntries(dataDir) {
	const out = [];
	for (const f of await filesUnder(join(dataDir, "tmp"))) {
		out.push({ name: relative(join(dataDir, "tmp"), f), size: (await stat(f)).size, abs: f });
	}
	return out;
}

// ---------------------------------------------------------------------------------------------
// Test
// ---------------------------------------------------------------------------------------------

describe("hubmirror sync killed and restarted", () => {
	before(async () => {
		bin = work.dir("hubmirror");
		// A copy taken while the build relinks the binary is incomplete: check it runs, else retry.
		for (let attempt = 1; ; attempt++) {
			try {
				await checkBinary(BIN);
				await copyFile(BIN, bin);
				await chmod(bin, 0o755);
				const help = await runHubmirror(bin, ["--help"], { timeoutMs: 10_000 });
				if (help.code !== 0) throw new Error(`${BIN} --help: exit ${help.code} ${help.signal ?? ""} ${help.stderr}`);
				break;
			} catch (err) {
				if (attempt >= 5) throw err;
				await sleep(3_000);
			}
		}
	});

	after(() => {
		for (const server of servers) {
			server.closeAllConnections();
			server.close();
		}
		servers.clear();
	});

	test("SIGKILL at several points: no partial revision is ever served, runs resume, the mirror converges", { timeout: 90_000 }, async (t) => {
		const files = repoFiles();
		const repoBytes = files.reduce((n, f) => n + f.size, 0);

		// Upstream: a hubmirror serving the imported repo.
		const src = work.dir("src");
		await writeSource(src, files.map((f) => [f.path, f.content]));
		const upstreamData = work.dir("upstream");
		const imported = await runHubmirror(bin, ["import", "--data", upstreamData, "--repo", REPO, src], { timeoutMs: 60_000 });
		assert.equal(imported.code, 0, `hubmirror import failed:\n${imported.stdout}${imported.stderr}`);
		const upstream = await serveHubmirror(bin, upstreamData);
		const upstreamInfo = await (await fetch(`${upstream.url}/api/models/${REPO}`)).json();
		const commit = upstreamInfo.sha;
		assert.match(commit, /^[0-9a-f]{40}$/);
		assert.equal(upstreamInfo.siblings.length, files.length, "the upstream lists every source file");
		const relay = await startRelay(upstream.url);

		// The mirror, and its reader started before anything is mirrored.
		const mirrorData = work.dir("mirror");
		const reader = await serveHubmirror(bin, mirrorData);
		let currentRun = -1;
		const watch = startReader(reader.url, files, commit, () => currentRun);

		const runs = [];
		const afterKill = []; // after run i: the entries of tmp/
		const byPartialName = new Map();
		for (const f of files) for (const n of f.partialNames) byPartialName.set(n, f);
		const problems = [];

		try {
			// Kill and restart until a run exits 0.
			for (let i = 0; i < MAX_RUNS; i++) {
				currentRun = i;
				relay.run = i;
				const kill = i < KILL_SCHEDULE.length ? KILL_SCHEDULE[i] : null;
				const run = await syncOnce(mirrorData, relay.url, kill);
				runs.push(run);
				assert.ok(!run.timedOut, `run ${i} did not finish in ${RUN_TIMEOUT_MS} ms`);
				const tmp = await tmpEntries(mirrorData);
				afterKill.push(tmp);
				if (run.code === 0) break;
				assert.ok(
					run.killedByTest,
					`run ${i} failed on its own (exit ${run.code}, signal ${run.signal}); only SIGKILLs from the test may stop a run`,
				);
				// What a kill leaves in tmp/ must be resumable prefixes of the right files.
				for (const e of tmp) {
					const file = byPartialName.get(e.name);
					if (!file) {
						problems.push(`after the kill of run ${i}: unexpected file tmp/${e.name} (${e.size} bytes)`);
						continue;
					}
					const bytes = await readFile(e.abs);
					if (bytes.length > file.size || !bytes.equals(file.content.subarray(0, bytes.length))) {
						problems.push(`after the kill of run ${i}: tmp/${e.name} (${bytes.length} bytes) is not a prefix of ${file.path}`);
					}
				}
			}
			const last = runs.at(-1);
			assert.equal(last.code, 0, `no run succeeded in ${MAX_RUNS} runs`);
			assert.ok(runs.length >= 2, "the first run was never killed: it finished before its kill point");
			assert.ok(
				last.stdout.includes(`mirrored ${commit}, ${files.length} files`) || last.stdout.includes(`up to date at ${commit}`),
				`the converged run names the upstream commit: ${last.stdout}`,
			);

			// Resume: after a kill, each file's first request starts at the bytes its partial kept.
			let resumed = 0;
			for (let i = 1; i < runs.length; i++) {
				const seen = new Set();
				for (const r of relay.log.filter((r) => r.run === i)) {
					const path = resolvedPath(r.url);
					if (path === null || seen.has(path)) continue;
					seen.add(path);
					const file = files.find((f) => f.path === path);
					if (!file) {
						problems.push(`run ${i} requested ${path}, which is not in the repo`);
						continue;
					}
					const kept = afterKill[i - 1].find((e) => file.partialNames.has(e.name))?.size ?? 0;
					const start = rangeStart(r.range);
					if (start !== kept) {
						problems.push(
							`run ${i} requested ${path} with Range ${r.range ?? "(none)"}, but the kill of run ${i - 1} left ${kept} bytes of it in tmp/`,
						);
					}
					if (start > 0) resumed++;
				}
			}
			assert.ok(resumed >= 1, "no run resumed an interrupted file (every file was requested from byte 0)");
			const sent = relay.log.filter((r) => resolvedPath(r.url) !== null).reduce((n, r) => n + r.bytes, 0);
			t.diagnostic(
				`${runs.length} runs (${runs.map((r) => (r.killedByTest ? `killed (${r.kill.label}) at ${r.killedAtMs} ms` : `exit ${r.code} in ${r.ms} ms`)).join(", ")}); ` +
					`${resumed} resumed transfers; upstream sent ${sent} file bytes for a ${repoBytes}-byte repo`,
			);
			assert.ok(sent < runs.length * repoBytes, `upstream sent ${sent} bytes over ${runs.length} runs of a ${repoBytes}-byte repo`);

			// Nothing is left in tmp/ once the sync has converged.
			assert.deepEqual(afterKill.at(-1).map((e) => `${e.name} (${e.size} bytes)`), [], "tmp/ is empty after convergence");

			// A further sync is up to date and downloads nothing.
			currentRun = runs.length;
			relay.run = runs.length;
			const again = await syncOnce(mirrorData, relay.url, null);
			runs.push(again);
			assert.equal(again.code, 0, "the sync after convergence succeeds");
			assert.match(again.stdout, new RegExp(`up to date at ${commit}`));
			assert.deepEqual(
				relay.log.filter((r) => r.run === runs.length - 1 && resolvedPath(r.url) !== null).map((r) => r.url),
				[],
				"the up-to-date sync downloaded nothing",
			);
			assert.deepEqual((await tmpEntries(mirrorData)).map((e) => e.name), [], "tmp/ is still empty");

			// The store: each blob is named by its sha256, at blobs/sha256/ab/cd/<sha256>; it holds
			// exactly the repo's content.
			const blobsRoot = join(mirrorData, "blobs", "sha256");
			const stored = [];
			for (const abs of await filesUnder(join(mirrorData, "blobs"))) {
				const rel = relative(blobsRoot, abs).split(sep);
				const name = rel.at(-1);
				assert.ok(
					rel.length === 3 && /^[0-9a-f]{64}$/.test(name) && rel[0] === name.slice(0, 2) && rel[1] === name.slice(2, 4),
					`unexpected file in the store: ${relative(mirrorData, abs)}`,
				);
				assert.equal(await sha256OfFile(abs), name, `blob ${name} does not hash to its name`);
				stored.push(name);
			}
			assert.deepEqual(stored.sort(), [...new Set(files.map((f) => f.sha256))].sort(), "the store holds exactly the repo's content");

			// Stop the reader, then check what it saw while the runs were killed.
			watch.stop = true;
			await watch.done;
			assert.ok(reader.alive(), `the reader exited during the test; stderr: ${reader.stderr()}`);
			problems.push(...watch.violations);
			t.diagnostic(
				`reader: ${watch.polls} polls, ${watch.notFound} before publication, ${watch.published} after ` +
					`(first in run ${watch.firstPublishedRun}), ${watch.verified} fully verified`,
			);
			assert.deepEqual(problems, [], "invariants violated");
			assert.ok(watch.notFound >= 10, `the reader polled only ${watch.notFound} times before publication`);
			assert.ok(watch.verified >= 1, "the reader never saw the published revision");

			// The mirror serves every file byte for byte, and lists them in its tree.
			const info = await (await fetch(`${reader.url}/api/models/${REPO}`)).json();
			assert.equal(info.sha, commit);
			const tree = await (await fetch(`${reader.url}/api/models/${REPO}/tree/main?recursive=true`)).json();
			const treeFiles = tree.filter((e) => e.type === "file").map((e) => `${e.path} ${e.size}`).sort();
			assert.deepEqual(treeFiles, files.map((f) => `${f.path} ${f.size}`).sort(), "the mirrored tree");
			for (const f of files) {
				const res = await fetch(`${reader.url}/${REPO}/resolve/main/${encodePath(f.path)}`);
				assert.equal(res.status, 200, `mirror resolve ${f.path}`);
				const body = Buffer.from(await res.arrayBuffer());
				assert.equal(body.length, f.size, `${f.path}: size`);
				assert.equal(sha256Hex(body), f.sha256, `${f.path}: mirrored bytes differ from the source`);
				assert.equal(res.headers.get("x-repo-commit"), commit, `${f.path}: X-Repo-Commit`);
			}
		} catch (err) {
			watch.stop = true;
			for (const [i, run] of runs.entries()) {
				t.diagnostic(
					`run ${i}: kill ${run.kill?.label ?? "none"}${run.killedAtMs !== null ? ` (at ${run.killedAtMs} ms)` : ""}; ` +
						`exit ${run.code}${run.signal ? ` signal ${run.signal}` : ""} after ${run.ms} ms`,
				);
				diagnoseOutput(t, run);
				for (const r of relay.log.filter((r) => r.run === i && resolvedPath(r.url) !== null)) {
					t.diagnostic(`  upstream: ${resolvedPath(r.url)} range ${r.range ?? "-"} -> ${r.status}, ${r.bytes} bytes${r.complete ? "" : " (cut)"}`);
				}
				if (afterKill[i]) for (const e of afterKill[i]) t.diagnostic(`  left in tmp/: ${e.name} ${e.size} bytes`);
			}
			for (const p of problems) t.diagnostic(`problem: ${p}`);
			for (const v of watch.violations) if (!problems.includes(v)) t.diagnostic(`reader: ${v}`);
			throw err;
		} finally {
			watch.stop = true;
			await watch.done.catch(() => {});
			await relay.close();
			await reader.stop();
			await upstream.stop();
		}
	});
});
