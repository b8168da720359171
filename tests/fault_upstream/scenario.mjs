// Scenarios against the fake Hub (fake_hub.mjs), shared by the sync and lineage test files of this
// folder: each scenario is a test with its own hub, the hubmirror runs and servers it started, and,
// when it fails, diagnostics with what the binary printed and what the hub was asked. Plain Node 20.

import assert from "node:assert/strict";
import { test } from "node:test";

import { bearer, BIN, diagnoseOutput, encodePath, runHubmirror, serveHubmirror, sha256Hex, useWorkRoot } from "../support/harness.mjs";
import { startFakeHub } from "./fake_hub.mjs";

/**
 * Sets up a test file of scenarios: its WorkRoot (`prefix`), and `scenario(name, fn, { timeout })`,
 * which runs `fn(ctx, t)`. `retries` and `stallTimeout` (seconds) are what `ctx.sync` passes;
 * `hubDefaults` are the options every `ctx.startHub` starts from; `runTimeoutMs` bounds each run.
 */
export function hubScenarios({ prefix, retries, stallTimeout = 2, timeout, runTimeoutMs, hubDefaults = {} }) {
	/** @type {Set<Awaited<ReturnType<typeof startFakeHub>>>} */
	const hubs = new Set();
	const work = useWorkRoot(prefix, {
		async teardown() {
			for (const hub of hubs) await hub.close();
			hubs.clear();
		},
	});

	function scenario(name, fn, { timeout: ms = timeout } = {}) {
		test(name, { timeout: ms }, async (t) => {
			const ctx = {
				hub: undefined,
				runs: [],
				servers: [],
				async startHub(options = {}) {
					const hub = await startFakeHub({ ...hubDefaults, ...options });
					hubs.add(hub);
					ctx.hub = hub;
					return hub;
				},
				/** `hubmirror ARGS...`, recorded for diagnostics. */
				async run(args, env = {}) {
					const run = await runHubmirror(BIN, args, { timeoutMs: runTimeoutMs, env });
					ctx.runs.push(run);
					assert.ok(!run.timedOut, `hubmirror ${args.join(" ")} did not finish in time\nstderr:\n${run.stderr}`);
					return run;
				},
				/** `hubmirror sync` against the hub, fast retry settings, then `args` (options and repos). */
				sync(dataDir, args, { env = {} } = {}) {
					const upstream = ["--upstream", ctx.hub.url, "--retries", String(retries), "--stall-timeout", String(stallTimeout)];
					return ctx.run(["sync", "--data", dataDir, ...upstream, ...args], env);
				},
				/** `hubmirror serve` on a data dir, stopped when the scenario ends. */
				async serve(dataDir, options) {
					const mirror = await serveHubmirror(BIN, dataDir, options);
					ctx.servers.push(mirror);
					return mirror;
				},
			};
			try {
				await fn(ctx, t);
			} catch (err) {
				for (const run of ctx.runs) {
					t.diagnostic(`hubmirror ${run.args.map((a) => (a.includes(" ") ? JSON.stringify(a) : a)).join(" ")}`);
					t.diagnostic(`  exit ${run.code}${run.signal ? ` signal ${run.signal}` : ""} after ${run.ms} ms`);
					diagnoseOutput(t, run);
				}
				for (const mirror of ctx.servers) {
					for (const l of mirror.stderr().trimEnd().split("\n").filter(Boolean)) t.diagnostic(`  serve stderr: ${l}`);
				}
				if (ctx.hub) {
					t.diagnostic("requests the fake hub and CDN saw:");
					for (const l of ctx.hub.describe()) t.diagnostic(`  ${l}`);
				}
				throw err;
			} finally {
				for (const mirror of ctx.servers) await mirror.stop();
				if (ctx.hub) {
					hubs.delete(ctx.hub);
					await ctx.hub.close();
				}
			}
		});
	}

	return { work, scenario, newDataDir: () => work.dir("data") };
}

/**
 * The served mirror has `repoId` at the upstream's commit, with its cardData verbatim and every
 * file byte for byte: size, sha256, ETag (the quoted sha256 for LFS files, the git blob sha1 for
 * the others, never the CDN's Xet hash) and X-Repo-Commit. Read with `token` (one of the mirror's
 * own) when given: a gated or private repo needs it.
 */
export async function assertRepoServed(mirror, hub, repoId, { token } = {}) {
	const repo = hub.repo(repoId);
	const headers = bearer(token);
	const info = await fetch(`${mirror.url}/api/models/${repoId}`, { headers });
	assert.equal(info.status, 200, `mirror /api/models/${repoId} answered ${info.status}`);
	const body = await info.json();
	assert.equal(body.sha, repo.sha, `${repoId}: the mirrored revision must be the upstream commit`);
	assert.deepEqual(body.cardData, repo.cardData, `${repoId}: cardData must be mirrored verbatim`);
	for (const file of repo.files.values()) {
		const res = await fetch(`${mirror.url}/${repoId}/resolve/main/${encodePath(file.path)}`, { headers });
		assert.equal(res.status, 200, `${repoId}/${file.path}: mirror resolve answered ${res.status}`);
		const bytes = Buffer.from(await res.arrayBuffer());
		assert.equal(bytes.length, file.size, `${repoId}/${file.path}: mirrored size`);
		assert.equal(sha256Hex(bytes), file.sha256, `${repoId}/${file.path}: mirrored bytes differ from the source`);
		const etag = file.lfs ? file.sha256 : file.gitSha1;
		assert.equal(
			res.headers.get("etag"),
			`"${etag}"`,
			`${repoId}/${file.path}: ETag must be the quoted ${file.lfs ? "sha256" : "git blob sha1"} (never the CDN's Xet hash)`,
		);
		assert.equal(res.headers.get("x-repo-commit"), repo.sha, `${repoId}/${file.path}: X-Repo-Commit`);
	}
}
