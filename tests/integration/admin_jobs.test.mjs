// The admin jobs API (/api/admin/jobs, /api/admin/config, /api/admin/config/reload) and `hubmirror
// jobs`, against `hubmirror serve --config` mirroring from another `hubmirror serve`: who may call
// them (and the audit of refusals), sync jobs of a rule, of a repo no rule names and of a missing
// repo, requests refused with 400 or 409, gc dry runs and verify jobs, queued jobs cancelled
// before they start and the limit of 16 waiting, a reload that adds a rule and one that names an
// invalid key, the effective config without the upstream's token, and the CLI over all of it.
// The tests run in order against one mirror, each on what the earlier ones stored.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test admin_jobs.test.mjs
//
// Plain Node 20 (no npm packages); everything on 127.0.0.1 with port 0, in a temporary directory
// removed afterwards.

import assert from "node:assert/strict";
import { access, mkdir, utimes, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { BIN, bearer, blobPath, createMirrorToken, importRepo, pseudoRandomBytes, runHubmirror, runLogged, serveHubmirror, sha256Hex, useWorkRoot, writeSource } from "../support/harness.mjs";

const ALPHA = "acme/jobs-alpha"; // rule 1
const BETA = "acme/jobs-beta"; // named by no rule: synced once by an admin
const GAMMA = "acme/jobs-gamma"; // rule 2, added by a reload
const MISSING = "acme/jobs-missing"; // the upstream has no such repo
const WEIGHTS = "model.safetensors";
const repoFiles = {
	[ALPHA]: new Map([["config.json", Buffer.from(`{"model_type": "alpha"}\n`)], [WEIGHTS, pseudoRandomBytes(ALPHA, 256 * 1024 + 7)]]),
	[BETA]: new Map([["config.json", Buffer.from(`{"model_type": "beta"}\n`)]]),
	[GAMMA]: new Map([["config.json", Buffer.from(`{"model_type": "gamma"}\n`)]]),
};
// The config names the variable that holds the upstream's token; the mirror servers inherit this
// process's environment, so the secret is set here.
const UPSTREAM_TOKEN_ENV = "HUBMIRROR_TEST_UPSTREAM_TOKEN";
const ADMIN_TOKEN_ENV = "HUBMIRROR_TEST_ADMIN_TOKEN";
const UNSET_TOKEN_ENV = "HUBMIRROR_TEST_UNSET_TOKEN";
const ADMIN = "ops-admin";
const FINISHED = ["succeeded", "failed", "cancelled"];

let upstream, mirror, data, configFile, upstreamSecret;
const tokens = {};
const work = useWorkRoot("hubmirror-admin-jobs-", {
	async setup(work, t) {
		const upstreamData = work.dir("upstream");
		for (const [repo, files] of Object.entries(repoFiles)) {
			const src = work.dir("src");
			await writeSource(src, files);
			await importRepo(t, upstreamData, src, repo);
		}
		// A real read token of the upstream, so that the upstream accepts what the mirror sends.
		upstreamSecret = await createMirrorToken(BIN, upstreamData, "puller");
		upstream = await serveHubmirror(BIN, upstreamData);
		process.env[UPSTREAM_TOKEN_ENV] = upstreamSecret;
		delete process.env[UNSET_TOKEN_ENV];
		configFile = work.dir("config.toml");
		await writeFile(configFile, configText([ALPHA]));
		data = work.dir("mirror");
		mirror = await serveHubmirror(BIN, data, { args: ["--config", configFile], keepStderr: 200_000 });
		// The users live in the registry serve made; the server reads tokens on each request.
		await hubmirror(["user", "add", ADMIN, "--admin"]);
		await hubmirror(["user", "add", "plain-user"]);
		tokens.admin = await newToken(ADMIN, "write");
		tokens.adminRead = await newToken(ADMIN, "read");
		tokens.plain = await newToken("plain-user", "write");
	},
	teardown: async () => {
		await mirror?.stop();
		await upstream?.stop();
	},
	timeout: 30_000,
});

function configText(repos, interval = 3600) {
	return [
		"[upstream]",
		`url = "${upstream.url}"`,
		`token_env = "${UPSTREAM_TOKEN_ENV}"`,
		"",
		"[schedule]",
		`interval_seconds = ${interval}`,
		"",
		...repos.flatMap((repo) => ["[[mirror]]", `repo = "${repo}"`, ""]),
	].join("\n");
}

/** `hubmirror --data MIRROR ARGS...`, which must exit 0; its stdout. */
async function hubmirror(args) {
	const run = await runHubmirror(BIN, ["--data", data, ...args]);
	assert.equal(run.code, 0, `hubmirror ${args.join(" ")} failed (exit ${run.code}): ${run.stderr}`);
	return run.stdout;
}

async function newToken(user, scope) {
	return (await hubmirror(["token", "create", "--user", user, "--scope", scope])).trimEnd().split("\n").at(-1);
}

/** One request to `server`'s API as `token`'s owner; the status, headers and parsed JSON body. */
async function api(method, path, { token = tokens.admin, body, server = mirror } = {}) {
	const headers = { ...bearer(token), ...(body === undefined ? {} : { "content-type": "application/json" }) };
	const res = await fetch(server.url + path, { method, headers, body: body === undefined || typeof body === "string" ? body : JSON.stringify(body) });
	const text = await res.text();
	return { status: res.status, headers: res.headers, text, json: text.startsWith("{") ? JSON.parse(text) : null };
}

/** An API call that must answer `status`; its JSON body. */
async function expect(status, method, path, options) {
	const res = await api(method, path, options);
	assert.equal(res.status, status, `${method} ${path} ${JSON.stringify(options?.body ?? "")}: ${res.text.slice(0, 300)}`);
	return res.json;
}

/** Polls `check()` every 100 ms until it returns a truthy value, which is returned; fails after 30 s. */
async function eventually(what, check) {
	const deadline = Date.now() + 30_000;
	for (;;) {
		const value = await check();
		if (value) return value;
		assert.ok(Date.now() < deadline, `${what}: not within 30 s`);
		await sleep(100);
	}
}

async function jobs(server = mirror) {
	return (await expect(200, "GET", "/api/admin/jobs", { server })).jobs;
}

async function finishedJob(id, server = mirror) {
	return eventually(`job ${id} finishes`, async () => {
		const job = await expect(200, "GET", `/api/admin/jobs/${id}`, { server });
		return FINISHED.includes(job.state) && job;
	});
}

/** POSTs a job, which must be accepted as the JobJson the contract gives; that job. */
async function startJob(body, server = mirror) {
	const res = await api("POST", "/api/admin/jobs", { body, server });
	assert.equal(res.status, 202, `POST ${JSON.stringify(body)}: ${res.text}`);
	const job = res.json;
	assert.equal(res.headers.get("location"), `/api/admin/jobs/${job.id}`);
	assert.deepEqual(Object.keys(job).sort(), ["cancelRequested", "error", "finishedAt", "id", "kind", "progress", "queuedAt", "result", "startedAt", "state", "target", "trigger"]);
	assert.deepEqual([job.kind, job.trigger, job.cancelRequested, job.finishedAt, job.error], [body.kind, `admin ${ADMIN}`, false, null, null]);
	assert.ok(["queued", "running"].includes(job.state), job.state);
	assert.ok(!Number.isNaN(Date.parse(job.queuedAt)), job.queuedAt);
	for (const key of ["doneBytes", "totalBytes", "doneItems", "totalItems"]) assert.equal(typeof job.progress[key], "number", key);
	return job;
}

/** The audit events of `action`, oldest first. */
async function audit(action) {
	return (await expect(200, "GET", "/api/admin/audit")).events.filter((e) => e.action === action);
}

async function assertServedFrom(server, repo) {
	for (const [path, content] of repoFiles[repo]) {
		const res = await fetch(`${server.url}/${repo}/resolve/main/${path}`);
		assert.equal(res.status, 200, `${repo}/${path}`);
		assert.ok(Buffer.from(await res.arrayBuffer()).equals(content), `${repo}/${path}: bytes`);
	}
}

/** `hubmirror jobs ARGS... --server URL --token-env VAR` with `token` in VAR; its run. */
async function jobsCli(t, args, { token = tokens.admin, tokenEnv = ADMIN_TOKEN_ENV, server = mirror } = {}) {
	const run = await runLogged(t, ["jobs", ...args, "--server", server.url, "--token-env", tokenEnv], { env: { [ADMIN_TOKEN_ENV]: token } });
	for (const secret of [upstreamSecret, ...Object.values(tokens)]) assert.ok(!(run.stdout + run.stderr).includes(secret), `a token in the output of jobs ${args.join(" ")}`);
	return run;
}

test("admin routes: 401 without a token, 403 for a non-admin (audited) and for a read-only token's changes", async () => {
	const routes = [["GET", "/api/admin/jobs"], ["POST", "/api/admin/jobs"], ["GET", "/api/admin/jobs/1"], ["DELETE", "/api/admin/jobs/1"], ["GET", "/api/admin/config"], ["POST", "/api/admin/config/reload"]];
	const body = { kind: "verify" };
	for (const [method, path] of routes) {
		await expect(401, method, path, { token: null, body: method === "POST" ? body : undefined });
		await expect(403, method, path, { token: tokens.plain, body: method === "POST" ? body : undefined });
		const asReader = await api(method, path, { token: tokens.adminRead, body: method === "POST" ? body : undefined });
		// Job 1, the schedule's first pass, may not be queued yet.
		const allowed = method !== "GET" ? [403] : path.endsWith("/1") ? [200, 404] : [200];
		assert.ok(allowed.includes(asReader.status), `${method} ${path} with a read-only admin token: ${asReader.status} ${asReader.text}`);
	}
	const refused = await audit("admin.refused");
	for (const [method, path] of routes) assert.ok(refused.some((e) => e.actor === "plain-user" && e.target === `${method} ${path}` && e.outcome === "refused"), `admin.refused of ${method} ${path}`);
	assert.ok(refused.some((e) => e.actor === ADMIN && e.target === "POST /api/admin/jobs"), "admin.refused of the read-only token's POST");
	// None of the refused requests started anything: the only job is the schedule's first pass.
	const listed = await eventually("the scheduled pass is listed", async () => {
		const listed = await jobs();
		return listed.length > 0 && listed;
	});
	assert.deepEqual(listed.map((j) => [j.kind, j.trigger, j.target]), [["sync", "schedule", "every rule"]]);
});

test("sync jobs of a rule, of a repo no rule names and of a missing repo", async (t) => {
	const scheduled = await finishedJob((await jobs()).find((j) => j.trigger === "schedule").id);
	assert.equal(scheduled.state, "succeeded", scheduled.error);

	const rule = await startJob({ kind: "sync", rule: 1 });
	assert.equal(rule.target, `rule 1: model ${ALPHA}`);
	const waited = await jobsCli(t, ["wait", String(rule.id), "--timeout", "30s"]);
	assert.equal(waited.code, 0, waited.stderr);
	assert.match(waited.stdout, new RegExp(`^${rule.id}\\s+sync\\s+succeeded\\s`));
	const ruleDone = await expect(200, "GET", `/api/admin/jobs/${rule.id}`);
	assert.equal(ruleDone.state, "succeeded");
	assert.ok(Date.parse(ruleDone.queuedAt) <= Date.parse(ruleDone.startedAt) && Date.parse(ruleDone.startedAt) <= Date.parse(ruleDone.finishedAt), JSON.stringify(ruleDone));
	assert.equal(ruleDone.result.repos, 1);
	// Whichever pass ran first downloaded the files, the other none.
	const alpha = [...repoFiles[ALPHA].values()];
	assert.equal(scheduled.result.downloaded_files + ruleDone.result.downloaded_files, alpha.length, JSON.stringify([scheduled.result, ruleDone.result]));
	assert.equal(scheduled.result.downloaded_bytes + ruleDone.result.downloaded_bytes, alpha.reduce((n, b) => n + b.length, 0));
	await assertServedFrom(mirror, ALPHA);

	const beta = await startJob({ kind: "sync", repo: BETA, type: "model" });
	assert.equal(beta.target, `model ${BETA}`);
	const betaDone = await finishedJob(beta.id);
	assert.equal(betaDone.state, "succeeded", betaDone.error);
	assert.deepEqual(betaDone.result, { repos: 1, downloaded_files: 1, downloaded_bytes: repoFiles[BETA].get("config.json").length });
	await assertServedFrom(mirror, BETA);

	const missing = await startJob({ kind: "sync", repo: MISSING, revision: "main" });
	const failed = await jobsCli(t, ["wait", String(missing.id), "--timeout", "30s"]);
	assert.equal(failed.code, 1, "jobs wait exits 1 for a failed job");
	const missingDone = await expect(200, "GET", `/api/admin/jobs/${missing.id}`);
	assert.equal(missingDone.state, "failed");
	assert.match(missingDone.error, new RegExp(MISSING), "the error names the repo");

	const started = await audit("job.start");
	for (const job of [rule, beta, missing]) assert.ok(started.some((e) => e.actor === ADMIN && e.target === `sync job ${job.id}` && e.outcome === "ok"), `job.start of job ${job.id}`);
	// The upstream's counters in /metrics: both repos' downloads, and the repo that failed.
	const metrics = await (await fetch(mirror.url + "/metrics")).text();
	const label = `{upstream="${upstream.url}"}`;
	const sample = (name) => Number(metrics.split("\n").find((line) => line.startsWith(name + label + " "))?.split(" ")[1]);
	assert.equal(sample("hubmirror_sync_files_total"), alpha.length + 1);
	assert.equal(sample("hubmirror_sync_bytes_total"), alpha.reduce((n, b) => n + b.length, 0) + repoFiles[BETA].get("config.json").length);
	assert.equal(sample("hubmirror_sync_errors_total"), 1);
	assert.ok(sample("hubmirror_upstream_requests_total") > 0, metrics);
	assert.match(metrics, /^hubmirror_jobs\{kind="sync",state="running"\} 0$/m);
	// The lag of what rules sync: the repos mirrored match their upstream, the missing one never did.
	const gauge = (line) => Number(metrics.split("\n").find((l) => l.startsWith(line + " "))?.split(" ")[1]);
	assert.ok(gauge('hubmirror_mirror_revisions{state="in_sync"}') >= 2, metrics);
	assert.ok(gauge('hubmirror_mirror_revisions{state="behind"}') >= 1, metrics);
	assert.ok(gauge("hubmirror_mirror_oldest_success_seconds") >= 0, metrics);
});

test("requests that make no sense are refused with 400, those the server cannot run with 409; nothing starts", async () => {
	const before = (await jobs()).map((j) => j.id);
	for (const body of [
		{ kind: "bogus" },
		{},
		"[1]",
		{ kind: "sync", bogus: 1 },
		{ kind: "sync", repo: "not a repo id" },
		{ kind: "sync", rule: 0 },
		{ kind: "sync", rule: 1, repo: ALPHA },
		{ kind: "sync", rule: 2 }, // the config has one rule
		{ kind: "sync", type: "model" },
		{ kind: "sync", dry_run: true },
		{ kind: "verify", grace: "0s" },
		{ kind: "gc", grace: "soon" },
		{ kind: "gc", dry_run: "yes" },
	]) {
		await expect(400, "POST", "/api/admin/jobs", { body });
	}
	assert.match((await expect(409, "POST", "/api/admin/jobs", { body: { kind: "budget" } })).error, /max_bytes/);
	assert.deepEqual((await jobs()).map((j) => j.id), before, "no refused request queued a job");
	await expect(404, "GET", "/api/admin/jobs/999999");
	await expect(404, "DELETE", "/api/admin/jobs/999999");
	await expect(409, "DELETE", `/api/admin/jobs/${before[0]}`); // finished already
});

test("a gc dry run with grace 0s counts a stray blob and removes nothing; a verify job re-hashes every blob", async (t) => {
	const stray = pseudoRandomBytes("stray", 4096 + 3);
	const strayPath = blobPath(data, sha256Hex(stray));
	await mkdir(dirname(strayPath), { recursive: true });
	await writeFile(strayPath, stray);
	const anHourAgo = new Date(Date.now() - 3600_000);
	await utimes(strayPath, anHourAgo, anHourAgo);

	const gc = await startJob({ kind: "gc", dry_run: true, grace: "0s" });
	assert.equal(gc.target, "dry run");
	const gcDone = await finishedJob(gc.id);
	assert.equal(gcDone.state, "succeeded", gcDone.error);
	assert.equal(gcDone.result.dry_run, true);
	assert.equal(gcDone.result.blobs, 1, JSON.stringify(gcDone.result));
	assert.equal(gcDone.result.bytes, stray.length, JSON.stringify(gcDone.result));
	await access(strayPath); // still there
	const cli = await runLogged(t, ["--data", data, "gc", "--dry-run", "--grace", "0s", "--json"]);
	assert.equal(cli.code, 0, cli.stderr);
	const report = JSON.parse(cli.stdout);
	assert.deepEqual([report.blobs, report.bytes], [gcDone.result.blobs, gcDone.result.bytes], "the job's report is hubmirror gc --json's");

	const verify = await startJob({ kind: "verify" });
	const verifyDone = await finishedJob(verify.id);
	assert.equal(verifyDone.state, "succeeded", verifyDone.error);
	const stored = [...repoFiles[ALPHA].values(), ...repoFiles[BETA].values()];
	assert.deepEqual(
		[verifyDone.result.blobs, verifyDone.result.bytes, verifyDone.result.corrupt, verifyDone.result.missing],
		[stored.length, stored.reduce((n, b) => n + b.length, 0), 0, 0],
		JSON.stringify(verifyDone.result),
	);
	assert.deepEqual([verifyDone.progress.doneItems, verifyDone.progress.totalItems], [stored.length, stored.length]);
});

test("queued jobs cancelled never start; at most 16 wait; a server without [upstream] or --config refuses with 409", async (t) => {
	// A second server on the same data dir whose scrub reads 1 KiB/s: its first verify job runs
	// until it is cancelled, and the jobs queued behind it wait.
	const slowConfig = work.dir("slow.toml");
	await writeFile(slowConfig, "[verify]\nmax_bytes_per_second = 1024\n");
	const slow = await serveHubmirror(BIN, data, { args: ["--config", slowConfig] });
	const bare = await serveHubmirror(BIN, data);
	try {
		assert.match((await expect(409, "POST", "/api/admin/jobs", { server: slow, body: { kind: "sync" } })).error, /upstream/);
		assert.match((await expect(409, "POST", "/api/admin/config/reload", { server: bare })).error, /--config/);
		assert.equal((await expect(200, "GET", "/api/admin/config", { server: bare })).config_file, null);

		const first = await startJob({ kind: "verify" }, slow);
		await eventually("the first verify job runs", async () => (await expect(200, "GET", `/api/admin/jobs/${first.id}`, { server: slow })).state === "running");
		const queued = [];
		for (let i = 0; i < 16; ++i) queued.push(await startJob({ kind: "verify" }, slow));
		assert.ok(queued.every((j) => j.state === "queued"));
		assert.match((await expect(409, "POST", "/api/admin/jobs", { server: slow, body: { kind: "verify" } })).error, /16 jobs are queued/);

		const last = queued.at(-1);
		const cancelling = await expect(200, "DELETE", `/api/admin/jobs/${last.id}`, { server: slow });
		assert.equal(cancelling.cancelRequested, true);
		const cancelled = await finishedJob(last.id, slow);
		assert.deepEqual([cancelled.state, cancelled.startedAt], ["cancelled", null]);
		// Running first, then queued, then finished; newest first in each.
		const listed = await jobs(slow);
		assert.deepEqual(
			listed.map((j) => [j.id, j.state]),
			[[first.id, "running"], ...queued.slice(0, -1).reverse().map((j) => [j.id, "queued"]), [last.id, "cancelled"]],
		);

		const viaCli = queued[0];
		const cancel = await jobsCli(t, ["cancel", String(viaCli.id)], { server: slow });
		assert.equal(cancel.code, 0, cancel.stderr);
		assert.equal((await jobsCli(t, ["wait", String(viaCli.id), "--timeout", "30s"], { server: slow })).code, 1, "jobs wait exits 1 for a cancelled job");
		for (const job of queued.slice(1, -1)) await expect(200, "DELETE", `/api/admin/jobs/${job.id}`, { server: slow });
		for (const job of queued) assert.deepEqual(((j) => [j.state, j.startedAt])(await finishedJob(job.id, slow)), ["cancelled", null], `job ${job.id}`);
		await expect(200, "DELETE", `/api/admin/jobs/${first.id}`, { server: slow });
		const stopped = await finishedJob(first.id, slow);
		assert.equal(stopped.state, "cancelled");
		assert.ok(stopped.startedAt !== null, "the running job had started");
		await expect(409, "DELETE", `/api/admin/jobs/${first.id}`, { server: slow });
		const cancels = await audit("job.cancel");
		for (const job of [first, ...queued]) assert.ok(cancels.some((e) => e.actor === ADMIN && e.target === `verify job ${job.id}`), `job.cancel of job ${job.id}`);
	} finally {
		await slow.stop();
		await bare.stop();
	}
});

test("a reload that adds a rule starts a pass that mirrors it; an invalid file is refused and changes nothing", async () => {
	const lastId = Math.max(...(await jobs()).map((j) => j.id));
	await writeFile(configFile, configText([ALPHA, GAMMA]));
	const reloaded = await expect(200, "POST", "/api/admin/config/reload");
	assert.deepEqual(reloaded, { reloaded: true, applied: ["mirror"], restart_needed: [] });
	const pass = await eventually("a scheduled pass after the reload", async () => (await jobs()).find((j) => j.id > lastId && j.kind === "sync"));
	assert.deepEqual([pass.trigger, pass.target], ["schedule", "every rule"]);
	const passDone = await finishedJob(pass.id);
	assert.equal(passDone.state, "succeeded", passDone.error);
	assert.equal(passDone.result.repos, 2);
	await assertServedFrom(mirror, GAMMA);

	await writeFile(configFile, configText([ALPHA], 1));
	const refused = await expect(400, "POST", "/api/admin/config/reload");
	assert.ok(refused.error.includes(configFile) && refused.error.includes("schedule.interval_seconds"), refused.error);
	const config = await expect(200, "GET", "/api/admin/config");
	assert.deepEqual(config.mirror.map((r) => [r.rule, r.repo]), [[1, ALPHA], [2, GAMMA]], "the rules in effect are the last valid file's");
	assert.equal(config.schedule.interval_seconds, 3600);
	const reloads = await audit("config.reload");
	assert.deepEqual(reloads.slice(-2).map((e) => [e.actor, e.outcome]), [[ADMIN, "ok"], [ADMIN, "failed"]]);

	// SIGHUP (systemd's ExecReload) reloads the same way.
	await writeFile(configFile, configText([ALPHA, GAMMA], 7200));
	process.kill(mirror.pid, "SIGHUP");
	await eventually("the interval SIGHUP reloaded", async () => (await expect(200, "GET", "/api/admin/config")).schedule.interval_seconds === 7200);
	assert.ok(mirror.alive(), "SIGHUP does not stop the server");
	await writeFile(configFile, configText([ALPHA, GAMMA]));
	process.kill(mirror.pid, "SIGHUP");
	await eventually("the interval reloaded back", async () => (await expect(200, "GET", "/api/admin/config")).schedule.interval_seconds === 3600);
});

test("the effective config shows the upstream's token variable, never its value", async (t) => {
	const res = await api("GET", "/api/admin/config");
	assert.equal(res.status, 200);
	const config = res.json;
	assert.deepEqual(Object.keys(config).sort(), ["access", "blob_store", "config_file", "gc", "mirror", "publish", "pull_through", "schedule", "storage", "sync", "upstream", "verify"]);
	assert.equal(config.blob_store.backend, "local");
	assert.match(config.blob_store.credentials, /^environment/, "where S3 credentials come from, not what they are");
	assert.deepEqual(config.upstream, { url: upstream.url, token: "(set; not shown)", token_env: UPSTREAM_TOKEN_ENV });
	assert.equal(config.config_file, configFile);
	assert.ok(!res.text.includes(upstreamSecret), "the upstream's token in /api/admin/config");
	const cli = await jobsCli(t, ["config"]);
	assert.equal(cli.code, 0, cli.stderr);
	assert.deepEqual(JSON.parse(cli.stdout), config, "jobs config prints the API's answer");
	for (const secret of [upstreamSecret, ...Object.values(tokens)]) assert.ok(!mirror.stderr().includes(secret), "a token in the server's log");
});

test("hubmirror jobs lists, starts, waits for, shows and reloads; without a token it exits 2 with one line", async (t) => {
	const started = await jobsCli(t, ["start", "verify", "--json"]);
	assert.equal(started.code, 0, started.stderr);
	const job = JSON.parse(started.stdout);
	assert.deepEqual([job.kind, job.trigger], ["verify", `admin ${ADMIN}`]);
	const waited = await jobsCli(t, ["wait", String(job.id), "--timeout", "30s"]);
	assert.equal(waited.code, 0, waited.stderr);
	const shown = await jobsCli(t, ["show", String(job.id), "--json"]);
	assert.equal(JSON.parse(shown.stdout).state, "succeeded");
	const list = await jobsCli(t, ["list"]);
	assert.equal(list.code, 0, list.stderr);
	assert.match(list.stdout, /^ID\s+KIND\s+STATE\s+PROGRESS\s+TRIGGER\s+TARGET\n/);
	assert.match(list.stdout, new RegExp(`^${job.id}\\s+verify\\s+succeeded\\s.*admin ${ADMIN}`, "m"));
	const listed = JSON.parse((await jobsCli(t, ["list", "--json"])).stdout).jobs;
	assert.deepEqual(listed.map((j) => j.id), (await jobs()).map((j) => j.id));
	const reload = await jobsCli(t, ["reload"]);
	assert.equal(reload.code, 0, reload.stderr);
	assert.equal(reload.stdout, "reloaded; applied: []; needs a restart: []\n");

	for (const [label, options, status] of [
		["without a token", { tokenEnv: UNSET_TOKEN_ENV }, 401],
		["with a non-admin token", { token: tokens.plain }, 403],
	]) {
		const run = await jobsCli(t, ["list"], options);
		assert.equal(run.code, 2, `jobs list ${label}`);
		assert.equal(run.stdout, "");
		assert.match(run.stderr, new RegExp(`^hubmirror: GET ${mirror.url}/api/admin/jobs: ${status} [^\\n]+\\n$`), `jobs list ${label}`);
	}
	const readOnly = await jobsCli(t, ["start", "verify"], { token: tokens.adminRead });
	assert.equal(readOnly.code, 2, "a read-only token cannot start a job");
	assert.match(readOnly.stderr, /^hubmirror: POST [^\n]+: 403 [^\n]+\n$/);
	// A gc dry run with no grace period: the CLI sends "0s", which the API must take.
	const gc = await jobsCli(t, ["start", "gc", "--dry-run", "--grace", "0s", "--json"]);
	assert.equal(gc.code, 0, gc.stderr);
	assert.equal((await finishedJob(JSON.parse(gc.stdout).id)).result.dry_run, true);
});
