// End-to-end test of access control through real HTTP: four repos mirrored by `hubmirror sync` from
// the fake Hub (../fault_upstream/fake_hub.mjs) with the upstream's flags (public, gated manual,
// gated auto, private to an organization), people made with the CLI (users, organizations and
// their members, grants, tokens: revoked, expired, read-only), then `hubmirror serve`:
//  - every caller x repo x route cell, each with its exact status and X-Error-Code: info, tree,
//    paths-info, refs, commits, resolve, raw, auth-check, the listings by search and by
//    `filter=base_model:`, lineage (of the repo, and of the base model all four name), the signed
//    manifest and /api/mirror/status;
//  - the access-request and settings writes of every caller, a read token refused as a write;
//  - asking for access (auto: granted at once; manual: pending until a manager decides) and the
//    downloads that follow, with @huggingface/hub;
//  - @huggingface/hub's errors: a gated repo's file 401 anonymously and 403 with a token without
//    access, a private repo's info 404 to outsiders, a granted token's download;
//  - `[access] anonymous = "none"` in serve's config: every request needs a token;
//  - `hubmirror audit --json`: the grants, the requests and decisions, the refused content
//    requests, and no token secret anywhere.
//
// The matrix's requests come from many loopback addresses (127.x.0.y), fewer than 20 bad tokens
// from each, so that the server's limit on bad tokens per address does not turn the expected 401s
// into 429s.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test access.test.mjs
//
// Everything happens on 127.0.0.0/8 in a fresh temporary directory that is removed afterwards.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";

import { downloadFile, fileDownloadInfo, HubApiError, modelInfo } from "@huggingface/hub";

import { startFakeHub } from "../fault_upstream/fake_hub.mjs";
import { BIN, createMirrorToken, pseudoRandomBytes, runHubmirror, serveHubmirror, sha256Hex, useWorkRoot } from "../support/harness.mjs";

// The operator's token at the upstream, sent to the fake Hub only.
const UPSTREAM_TOKEN_ENV = "HUBMIRROR_E2E_ACCESS_UPSTREAM_TOKEN";
const UPSTREAM_TOKEN = `hf_access${randomBytes(12).toString("hex")}`;

const FOUNDATION = "foundation-lab/base-7b";
const PUBLIC = "acme/accessmx-open";
const MANUAL = "acme/accessmx-manual";
const AUTO = "acme/accessmx-auto";
const PRIVATE = "secret-lab/accessmx-private";
const REPOS = [PUBLIC, MANUAL, AUTO, PRIVATE];
const SEARCH = "accessmx";
const GATE_PROMPT = "You agree to the accessmx research licence.";
const INVALID_CREDENTIALS = "Invalid credentials in Authorization header";

/** Each repo's files: a card naming FOUNDATION, a small config, an LFS weight file of its own. */
function repoFiles(id) {
	const config = JSON.stringify({ model_type: "llama", name: id }, null, 2) + "\n";
	const weights = pseudoRandomBytes(`access/${id}`, 24 * 1024 + 5);
	return {
		config,
		weights,
		files: [
			{ path: ".gitattributes", content: Buffer.from("*.safetensors filter=lfs diff=lfs merge=lfs -text\n") },
			{ path: "README.md", content: Buffer.from(`---\nbase_model: ${FOUNDATION}\nlicense: other\n---\n\n# ${id}\n`) },
			{ path: "config.json", content: Buffer.from(config) },
			{ path: "model.safetensors", content: weights, lfs: true },
		],
	};
}

const CONTENT = Object.fromEntries(REPOS.map((id) => [id, repoFiles(id)]));
const FLAGS = {
	[PUBLIC]: { private: false, gated: false },
	[MANUAL]: { private: false, gated: "manual" },
	[AUTO]: { private: false, gated: "auto" },
	[PRIVATE]: { private: true, gated: false },
};

/** The upstream: the four repos, each gated or private one opened to UPSTREAM_TOKEN. */
const UPSTREAM = REPOS.map((id) => ({
	id,
	...FLAGS[id],
	approvedTokens: [UPSTREAM_TOKEN],
	cardData: { base_model: FOUNDATION, license: "other", ...(FLAGS[id].gated ? { extra_gated_prompt: GATE_PROMPT } : {}) },
	files: CONTENT[id].files,
}));

/**
 * The callers of the matrix: `rights` is what each repo is to them: "content" (everything),
 * "metadata" (a gated repo's info, not its files), "hidden" (a private repo that does not exist for
 * them) or "invalid" (their token is refused everywhere). `manages` says whether they may manage
 * the repos of acme and secret-lab (their token is read-only all the same).
 */
const everything = (right) => Object.fromEntries(REPOS.map((id) => [id, right]));
const CALLERS = [
	{ name: "anonymous", rights: { [PUBLIC]: "content", [MANUAL]: "metadata", [AUTO]: "metadata", [PRIVATE]: "hidden" } },
	{ name: "token without a grant", user: "outsider", rights: { [PUBLIC]: "content", [MANUAL]: "metadata", [AUTO]: "metadata", [PRIVATE]: "hidden" } },
	{ name: "granted user", user: "granted", rights: everything("content") },
	{ name: "organization member", user: "member", rights: { [PUBLIC]: "content", [MANUAL]: "metadata", [AUTO]: "metadata", [PRIVATE]: "content" } },
	{ name: "revoked token", user: "leaver", rights: everything("invalid") },
	{ name: "expired token", user: "temp", rights: everything("invalid") },
	{ name: "read token of a manager", user: "maintainer", manages: true, rights: everything("content") },
	{ name: "admin", user: "root", manages: true, rights: everything("content") },
];

/** The fake Hub, the mirror's data dir and server, the secrets of its people, when "brief" expires. */
const world = { hub: undefined, data: "", server: undefined, url: "", tokens: {}, expiresAt: 0 };

/** `hubmirror --data DATA ARGS...` on the mirror, which must succeed; its stdout. */
async function mirrorCli(args) {
	const run = await runHubmirror(BIN, ["--data", world.data, ...args]);
	assert.equal(run.code, 0, `hubmirror ${args.join(" ")} failed (exit ${run.code}): ${run.stderr}`);
	return run.stdout;
}

/** `hubmirror token create --user USER ARGS...`: the secret, alone on the last line. */
async function newToken(user, args = []) {
	const secret = (await mirrorCli(["token", "create", "--user", user, ...args])).trimEnd().split("\n").at(-1);
	assert.match(secret, /^hf_[A-Za-z0-9]+$/, `token create --user ${user} printed no secret`);
	return secret;
}

/** Makes the mirror's people: organizations, members, grants and tokens. */
async function addPeople() {
	const tokens = world.tokens;
	await mirrorCli(["org", "add", "acme"]);
	await mirrorCli(["org", "add", "secret-lab"]);
	tokens.outsider = await createMirrorToken(BIN, world.data, "outsider");
	tokens.granted = await createMirrorToken(BIN, world.data, "granted", { grants: [MANUAL, AUTO, PRIVATE] });
	tokens.member = await createMirrorToken(BIN, world.data, "member");
	await mirrorCli(["org", "add-member", "secret-lab", "member", "--role", "read"]);
	tokens.maintainer = await createMirrorToken(BIN, world.data, "maintainer");
	for (const org of ["acme", "secret-lab"]) await mirrorCli(["org", "add-member", org, "maintainer", "--role", "write"]);
	tokens.maintainerWrite = await newToken("maintainer", ["--scope", "write", "--name", "deploy"]);
	tokens.root = await createMirrorToken(BIN, world.data, "root", { admin: true });
	// Admins: when their tokens are refused, that comes from the token alone, never from the user.
	await mirrorCli(["user", "add", "leaver", "--admin"]);
	tokens.leaver = await newToken("leaver", ["--name", "laptop"]);
	await mirrorCli(["user", "add", "temp", "--admin"]);
	tokens.tempDesk = await newToken("temp", ["--name", "desk"]);
	tokens.temp = await newToken("temp", ["--name", "brief", "--expires", "1s"]);
	world.expiresAt = Date.now() + 1000;
	for (const user of ["asker-auto", "asker-manual", "grantee"]) tokens[user] = await createMirrorToken(BIN, world.data, user);
}

const work = useWorkRoot("hubmirror-e2e-access-", {
	timeout: 60_000,
	async setup(root) {
		world.hub = await startFakeHub({ repos: UPSTREAM });
		world.data = root.dir("data");
		const sync = await runHubmirror(
			BIN,
			["sync", "--data", world.data, "--upstream", world.hub.url, "--retries", "1", "--token-env", UPSTREAM_TOKEN_ENV, ...REPOS],
			{ env: { [UPSTREAM_TOKEN_ENV]: UPSTREAM_TOKEN }, timeoutMs: 60_000 },
		);
		assert.equal(sync.code, 0, `hubmirror sync failed (exit ${sync.code})\nstdout:\n${sync.stdout}\nstderr:\n${sync.stderr}`);
		await addPeople();
		world.server = await serveHubmirror(BIN, world.data, { keepStderr: 2_000_000 });
		world.url = world.server.url;
		// A revoked token is refused from the server's next request on.
		const before = await call("GET", `/${PRIVATE}/resolve/main/config.json`, { token: world.tokens.leaver });
		assert.equal(before.status, 200, `the admin's token before its revocation: ${describeAnswer(before)}`);
		await mirrorCli(["token", "revoke", "laptop", "--user", "leaver"]);
		const after = await call("GET", `/${PRIVATE}/resolve/main/config.json`, { token: world.tokens.leaver });
		assert.deepEqual(refusalProblems(after, 401, "Unauthorized", INVALID_CREDENTIALS), [], `the next request: ${describeAnswer(after)}`);
		await sleep(Math.max(0, world.expiresAt + 200 - Date.now()));
	},
	async teardown() {
		await world.server?.stop();
		await world.hub?.close();
	},
});

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/**
 * One request to the mirror over a fresh connection from the address `from`, read to the end:
 * { status, headers, body (a Buffer), json() }.
 */
function call(method, path, { token, headers = {}, body, contentType, from = "127.0.0.1" } = {}) {
	const url = new URL(world.url + path);
	const sent = { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) };
	if (body !== undefined) {
		sent["content-type"] = contentType ?? "application/json";
		sent["content-length"] = Buffer.byteLength(body);
	}
	return new Promise((resolve, reject) => {
		const req = http.request({ method, host: url.hostname, port: url.port, path: url.pathname + url.search, headers: sent, localAddress: from, agent: false }, (res) => {
			const chunks = [];
			res.on("data", (c) => chunks.push(c));
			res.on("end", () => {
				const buf = Buffer.concat(chunks);
				resolve({ method, path, status: res.statusCode, headers: res.headers, body: buf, json: () => JSON.parse(buf.toString("utf8")) });
			});
			res.on("error", reject);
		});
		req.on("error", reject);
		req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
		req.end(body);
	});
}

function describeAnswer(res) {
	return `${res.method} ${res.path} -> ${res.status} X-Error-Code=${res.headers["x-error-code"] ?? "(none)"} X-Error-Message=${res.headers["x-error-message"] ?? "(none)"}`;
}

/** The problems with an answer that should be a refusal `status` with X-Error-Code `code` (and `message`). */
function refusalProblems(res, status, code, message) {
	const problems = [];
	if (res.status !== status || res.headers["x-error-code"] !== code) problems.push(`expected ${status} ${code}`);
	if (message !== undefined && res.headers["x-error-message"] !== message) problems.push(`expected X-Error-Message ${JSON.stringify(message)}`);
	return problems;
}

/** The problems with an answer that should be a 200 without X-Error-Code whose body satisfies `check`. */
function successProblems(res, check) {
	if (res.status !== 200 || res.headers["x-error-code"] !== undefined) return ["expected 200 without X-Error-Code"];
	try {
		check?.(res);
		return [];
	} catch (err) {
		return [`200, but ${err.message.replace(/\s+/g, " ")}`];
	}
}

// ---------------------------------------------------------------------------------------------
// The routes of the matrix
// ---------------------------------------------------------------------------------------------

/**
 * Each route: `kind` says how a right decides the answer ("metadata": readable with a gated
 * repo's metadata right; "content": needs the content right; "listed": a 200 listing in which
 * the repo appears or not), `request(repo)` gives [method, path, options], and `check(res, repo)`
 * checks a 200's body (for "listed": whether `repo` is in it, returned as a boolean).
 */
const ids = (items) => items.map((item) => item.id);
const ROUTES = [
	{
		name: "info",
		kind: "metadata",
		request: (repo) => ["GET", `/api/models/${repo}`],
		check(res, repo) {
			const info = res.json();
			assert.equal(info.id, repo, "id");
			assert.equal(info.private, FLAGS[repo].private, "private, as the upstream says");
			assert.equal(info.gated, FLAGS[repo].gated, "gated, as the upstream says");
		},
	},
	{
		name: "tree",
		kind: "metadata",
		request: (repo) => ["GET", `/api/models/${repo}/tree/main`],
		check: (res) => assert.deepEqual(res.json().map((e) => e.path).sort(), [".gitattributes", "README.md", "config.json", "model.safetensors"]),
	},
	{
		name: "paths-info",
		kind: "metadata",
		request: (repo) => ["POST", `/api/models/${repo}/paths-info/main`, { body: "paths=config.json&paths=model.safetensors", contentType: "application/x-www-form-urlencoded" }],
		check: (res, repo) => {
			const entries = res.json();
			assert.deepEqual(entries.map((e) => e.path).sort(), ["config.json", "model.safetensors"]);
			assert.equal(entries.find((e) => e.path === "model.safetensors").lfs?.oid, sha256Hex(CONTENT[repo].weights));
		},
	},
	{
		name: "refs",
		kind: "metadata",
		request: (repo) => ["GET", `/api/models/${repo}/refs`],
		check: (res, repo) => assert.deepEqual(res.json().branches, [{ name: "main", ref: "refs/heads/main", targetCommit: world.hub.repo(repo).sha }]),
	},
	{
		name: "commits",
		kind: "metadata",
		request: (repo) => ["GET", `/api/models/${repo}/commits/main`],
		check: (res, repo) => assert.equal(res.json()[0]?.id, world.hub.repo(repo).sha),
	},
	{
		name: "resolve",
		kind: "content",
		request: (repo) => ["GET", `/${repo}/resolve/main/model.safetensors`],
		check: (res, repo) => assert.equal(sha256Hex(res.body), sha256Hex(CONTENT[repo].weights), "the bytes' sha256"),
	},
	{
		name: "raw",
		kind: "content",
		request: (repo) => ["GET", `/${repo}/raw/main/config.json`],
		check: (res, repo) => assert.equal(res.body.toString("utf8"), CONTENT[repo].config),
	},
	{
		name: "auth-check",
		kind: "content",
		request: (repo) => ["GET", `/api/models/${repo}/auth-check`],
	},
	{
		name: "listing by search",
		kind: "listed",
		request: () => ["GET", `/api/models?search=${SEARCH}&limit=100`],
		check: (res, repo) => ids(res.json()).includes(repo),
	},
	{
		name: "listing by filter=base_model:",
		kind: "listed",
		request: () => ["GET", `/api/models?filter=${encodeURIComponent(`base_model:${FOUNDATION}`)}&limit=100`],
		check: (res, repo) => ids(res.json()).includes(repo),
	},
	{
		name: "lineage",
		kind: "metadata",
		request: (repo) => ["GET", `/api/lineage/models/${repo}?direction=up`],
		check: (res, repo) => assert.deepEqual(res.json().edges.map((e) => [e.child, e.parent]), [[repo, FOUNDATION]]),
	},
	{
		name: "lineage of the base model",
		kind: "listed",
		request: () => ["GET", `/api/lineage/models/${FOUNDATION}?direction=down`],
		check: (res, repo) => {
			const graph = res.json();
			const node = graph.nodes.some((n) => n.id === repo);
			const edge = graph.edges.some((e) => e.child === repo);
			assert.equal(node, edge, `${repo}: a node without its edge, or an edge without its node`);
			return node;
		},
	},
	{
		name: "integrity manifest",
		kind: "metadata",
		request: (repo) => ["GET", `/api/integrity/models/${repo}/main`],
		check: (res, repo) => {
			const { manifest } = res.json();
			assert.equal(manifest.repo, repo);
			assert.equal(manifest.commit, world.hub.repo(repo).sha);
		},
	},
	{
		name: "mirror status",
		kind: "listed",
		request: () => ["GET", "/api/mirror/status"],
		check: (res, repo) => ids(res.json().repos).includes(repo),
	},
];

/** The problems with the answer `res` of `route` on `repo` to a caller with `right`. */
function cellProblems(res, route, repo, right, anonymous) {
	if (right === "invalid") return refusalProblems(res, 401, "Unauthorized", INVALID_CREDENTIALS);
	if (route.kind === "listed") {
		let listed;
		const problems = successProblems(res, () => (listed = route.check(res, repo)));
		if (problems.length > 0) return problems;
		const expected = right !== "hidden";
		return listed === expected ? [] : [`expected ${repo} ${expected ? "listed" : "left out"}`];
	}
	if (right === "hidden") return refusalProblems(res, 404, "RepoNotFound");
	if (right === "metadata" && route.kind === "content") return refusalProblems(res, anonymous ? 401 : 403, "GatedRepo");
	return successProblems(res, (r) => route.check?.(r, repo));
}

/**
 * The address a caller's requests on one repo come from, in the reads test (`part` 0) or the
 * writes test (1): one per caller, repo and test, each sending fewer bad tokens than the limit.
 */
function addressOf(callerIndex, repoIndex, part) {
	return `127.${part + 1}.0.${10 + callerIndex * REPOS.length + repoIndex}`;
}

describe("access control through real HTTP", () => {
	for (const [callerIndex, caller] of CALLERS.entries()) {
		test(`what a caller reads: ${caller.name}`, { timeout: 20_000 }, async () => {
			const token = caller.user ? world.tokens[caller.user] : undefined;
			const failures = [];
			for (const [repoIndex, repo] of REPOS.entries()) {
				const right = caller.rights[repo];
				for (const route of ROUTES) {
					const [method, path, options = {}] = route.request(repo);
					const res = await call(method, path, { ...options, token, from: addressOf(callerIndex, repoIndex, 0) });
					for (const problem of cellProblems(res, route, repo, right, !token)) {
						failures.push(`${route.name} of ${repo} (${right}): ${problem}; got ${describeAnswer(res)}`);
					}
				}
			}
			assert.deepEqual(failures, [], `${caller.name}: cells that failed`);
		});
	}

	test("who may list and decide access requests and change settings", { timeout: 20_000 }, async () => {
		const WRITES = [
			{ name: "pending requests", write: false, request: (repo) => ["GET", `/api/models/${repo}/user-access-request/pending`] },
			{ name: "settings", write: true, request: (repo) => ["PUT", `/api/models/${repo}/settings`, { body: JSON.stringify({ gated: FLAGS[repo].gated }) }] },
			{
				name: "handle",
				write: true,
				request: (repo) => ["POST", `/api/models/${repo}/user-access-request/handle`, { body: JSON.stringify({ user: "outsider", status: "rejected" }) }],
			},
		];
		const failures = [];
		for (const [callerIndex, caller] of CALLERS.entries()) {
			const token = caller.user ? world.tokens[caller.user] : undefined;
			for (const [repoIndex, repo] of REPOS.entries()) {
				const right = caller.rights[repo];
				for (const route of WRITES) {
					const [method, path, options = {}] = route.request(repo);
					const res = await call(method, path, { ...options, token, from: addressOf(callerIndex, repoIndex, 1) });
					let problems;
					if (right === "invalid") problems = refusalProblems(res, 401, "Unauthorized", INVALID_CREDENTIALS);
					else if (!token) problems = refusalProblems(res, 401, "Unauthorized");
					else if (right === "hidden") problems = refusalProblems(res, 404, "RepoNotFound");
					// Managers with a read token may look, not change; everyone else may do neither.
					else if (!caller.manages || route.write) problems = refusalProblems(res, 403, "Forbidden");
					else problems = successProblems(res, (r) => assert.ok(Array.isArray(r.json()), "a list of requests"));
					for (const problem of problems) failures.push(`${caller.name}: ${route.name} of ${repo} (${right}): ${problem}; got ${describeAnswer(res)}`);
				}
			}
		}
		assert.deepEqual(failures, [], "cells that failed");
	});

	test("whoami-v2 and git's Basic authentication", async () => {
		const anonymous = await call("GET", "/api/whoami-v2");
		assert.deepEqual(refusalProblems(anonymous, 401, "Unauthorized"), [], describeAnswer(anonymous));
		const me = await call("GET", "/api/whoami-v2", { token: world.tokens.maintainerWrite });
		assert.equal(me.status, 200, describeAnswer(me));
		const body = me.json();
		assert.equal(body.name, "maintainer");
		assert.deepEqual(body.orgs.map((o) => [o.name, o.roleInOrg]).sort(), [["acme", "write"], ["secret-lab", "write"]]);
		assert.deepEqual([body.auth.accessToken.displayName, body.auth.accessToken.role], ["deploy", "write"]);
		// git sends the token as the password.
		const basic = `Basic ${Buffer.from(`git:${world.tokens.member}`).toString("base64")}`;
		const file = await call("GET", `/${PRIVATE}/resolve/main/model.safetensors`, { headers: { authorization: basic } });
		assert.equal(file.status, 200, describeAnswer(file));
		assert.equal(sha256Hex(file.body), sha256Hex(CONTENT[PRIVATE].weights));
		// The expired token's user is fine: only that token is refused.
		const desk = await call("GET", `/${PRIVATE}/resolve/main/config.json`, { token: world.tokens.tempDesk });
		assert.equal(desk.status, 200, describeAnswer(desk));
	});

	test("an address sending bad tokens gets 429 with Retry-After; other addresses are served", { timeout: 20_000 }, async () => {
		const bad = `hf_${"q".repeat(34)}`;
		const from = "127.0.0.250";
		for (let i = 0; i < 20; i++) {
			const res = await call("GET", `/api/models/${PUBLIC}`, { token: bad, from });
			assert.deepEqual(refusalProblems(res, 401, "Unauthorized", INVALID_CREDENTIALS), [], `bad token ${i + 1}: ${describeAnswer(res)}`);
			assert.ok(!res.body.toString("utf8").includes(bad), "the token is not echoed");
		}
		const limited = await call("GET", `/api/models/${PUBLIC}`, { token: bad, from });
		assert.deepEqual(refusalProblems(limited, 429, "TooManyRequests"), [], describeAnswer(limited));
		assert.match(limited.headers["retry-after"] ?? "", /^[1-9][0-9]*$/, "Retry-After");
		const other = await call("GET", `/${PRIVATE}/resolve/main/config.json`, { token: world.tokens.member, from: "127.0.0.251" });
		assert.equal(other.status, 200, describeAnswer(other));
	});

	test("@huggingface/hub: GatedRepo 401 and 403, a private repo 404 to outsiders, a granted download", { timeout: 20_000 }, async () => {
		const hubUrl = world.url;
		const statusOf = (code) => (err) => {
			assert.ok(err instanceof HubApiError, `a HubApiError, not ${err}`);
			assert.equal(err.statusCode, code, err.message);
			return true;
		};
		for (const [accessToken, code] of [
			[undefined, 401],
			[world.tokens.outsider, 403],
			[world.tokens.member, 403],
		]) {
			for (const repo of [MANUAL, AUTO]) {
				const args = { repo, path: "model.safetensors", hubUrl, ...(accessToken ? { accessToken } : {}) };
				await assert.rejects(fileDownloadInfo(args), statusOf(code), `fileDownloadInfo ${repo} ${accessToken ? "with a token" : "anonymously"}`);
				await assert.rejects(downloadFile(args), statusOf(code), `downloadFile ${repo} ${accessToken ? "with a token" : "anonymously"}`);
			}
		}
		for (const accessToken of [undefined, world.tokens.outsider]) {
			await assert.rejects(modelInfo({ name: PRIVATE, hubUrl, ...(accessToken ? { accessToken } : {}) }), statusOf(404), "modelInfo of the private repo");
		}
		const info = await modelInfo({ name: PRIVATE, hubUrl, accessToken: world.tokens.member });
		assert.equal(info.private, true);
		for (const [repo, accessToken] of [
			[MANUAL, world.tokens.granted],
			[AUTO, world.tokens.granted],
			[PRIVATE, world.tokens.granted],
			[PRIVATE, world.tokens.member],
		]) {
			const blob = await downloadFile({ repo, path: "model.safetensors", hubUrl, accessToken });
			assert.ok(blob, `downloadFile ${repo} returned null`);
			assert.equal(sha256Hex(Buffer.from(await blob.arrayBuffer())), sha256Hex(CONTENT[repo].weights), `${repo}: sha256`);
		}
	});

	test("asking for access: auto is granted at once, manual waits for a manager", { timeout: 20_000 }, async () => {
		const ask = (repo, token) => call("POST", `/${repo}/ask-access`, { token, body: "Name=Ada&Affiliation=Lab", contentType: "application/x-www-form-urlencoded" });
		const download = async (repo, accessToken) => {
			const blob = await downloadFile({ repo, path: "model.safetensors", hubUrl: world.url, accessToken });
			assert.ok(blob, `downloadFile ${repo} returned null`);
			assert.equal(sha256Hex(Buffer.from(await blob.arrayBuffer())), sha256Hex(CONTENT[repo].weights), `${repo}: sha256`);
		};
		const expectAnswer = (res, status, code) => assert.deepEqual(status === 200 ? successProblems(res) : refusalProblems(res, status, code), [], describeAnswer(res));

		expectAnswer(await ask(AUTO), 401, "Unauthorized");
		expectAnswer(await ask(PUBLIC, world.tokens.outsider), 400, "BadRequest");
		expectAnswer(await ask(PRIVATE, world.tokens.outsider), 404, "RepoNotFound");

		// auto
		const autoToken = world.tokens["asker-auto"];
		expectAnswer(await call("GET", `/api/models/${AUTO}/auth-check`, { token: autoToken }), 403, "GatedRepo");
		const auto = await ask(AUTO, autoToken);
		expectAnswer(auto, 200);
		assert.deepEqual(auto.json(), { status: "accepted" });
		expectAnswer(await call("GET", `/api/models/${AUTO}/auth-check`, { token: autoToken }), 200);
		await download(AUTO, autoToken);

		// manual, then handled by a manager with a write token
		const manualToken = world.tokens["asker-manual"];
		const manual = await ask(MANUAL, manualToken);
		expectAnswer(manual, 200);
		assert.deepEqual(manual.json(), { status: "pending" });
		expectAnswer(await call("GET", `/${MANUAL}/resolve/main/model.safetensors`, { token: manualToken }), 403, "GatedRepo");
		const requests = (status) => call("GET", `/api/models/${MANUAL}/user-access-request/${status}`, { token: world.tokens.maintainer });
		const pending = await requests("pending");
		expectAnswer(pending, 200);
		const asked = pending.json().find((r) => r.user.user === "asker-manual");
		assert.ok(asked, `asker-manual is pending: ${pending.body}`);
		assert.equal(asked.status, "pending");
		assert.equal(asked.fields.terms, GATE_PROMPT, "the terms accepted are the card's gate prompt");
		const decision = JSON.stringify({ user: "asker-manual", status: "accepted" });
		const handle = (token) => call("POST", `/api/models/${MANUAL}/user-access-request/handle`, { token, body: decision });
		expectAnswer(await handle(world.tokens.maintainer), 403, "Forbidden");
		expectAnswer(await handle(manualToken), 403, "Forbidden");
		expectAnswer(await handle(world.tokens.maintainerWrite), 200);
		await download(MANUAL, manualToken);
		assert.ok(!(await requests("pending")).json().some((r) => r.user.user === "asker-manual"), "no longer pending");
		assert.ok((await requests("accepted")).json().some((r) => r.user.user === "asker-manual"), "accepted");

		// a grant without a request
		const granteeToken = world.tokens.grantee;
		expectAnswer(await call("GET", `/${MANUAL}/resolve/main/config.json`, { token: granteeToken }), 403, "GatedRepo");
		const grant = (token) => call("POST", `/api/models/${MANUAL}/user-access-request/grant`, { token, body: JSON.stringify({ user: "grantee" }) });
		expectAnswer(await grant(world.tokens.root), 403, "Forbidden");
		expectAnswer(await grant(world.tokens.maintainerWrite), 200);
		await download(MANUAL, granteeToken);
	});

	test("settings: a manager's write token makes a repo private, then public again", { timeout: 20_000 }, async () => {
		const settings = (body) => call("PUT", `/api/models/${PUBLIC}/settings`, { token: world.tokens.maintainerWrite, body: JSON.stringify(body) });
		const readAnonymously = () => call("GET", `/api/models/${PUBLIC}`);
		const listed = async (token) => ids((await call("GET", `/api/models?search=${SEARCH}&limit=100`, { token })).json()).includes(PUBLIC);
		assert.equal((await settings({ visibility: "private" })).status, 200);
		const hidden = await readAnonymously();
		assert.deepEqual(refusalProblems(hidden, 404, "RepoNotFound"), [], describeAnswer(hidden));
		assert.equal(await listed(undefined), false, "left out of the anonymous listing");
		assert.equal(await listed(world.tokens.member), false, "left out for a member of another organization");
		assert.equal(await listed(world.tokens.maintainer), true, "listed for a member of acme");
		assert.equal((await settings({ private: false })).status, 200);
		assert.equal((await readAnonymously()).status, 200);
		assert.equal(await listed(undefined), true);
	});

	test('[access] anonymous = "none": every request needs a valid token', { timeout: 20_000 }, async () => {
		const config = work.dir("anonymous-none.toml");
		await writeFile(config, '[access]\nanonymous = "none"\n');
		const closed = await serveHubmirror(BIN, world.data, { args: ["--config", config] });
		try {
			for (const path of [`/api/models/${PUBLIC}`, `/${PUBLIC}/resolve/main/config.json`, `/api/models?search=${SEARCH}`, "/api/mirror/status"]) {
				const anonymous = await fetch(closed.url + path);
				assert.equal(anonymous.status, 401, `anonymous GET ${path}`);
				assert.equal(anonymous.headers.get("x-error-code"), "Unauthorized", `anonymous GET ${path}`);
				assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer /, `anonymous GET ${path}: WWW-Authenticate`);
				const outsider = await fetch(closed.url + path, { headers: { authorization: `Bearer ${world.tokens.outsider}` } });
				assert.equal(outsider.status, 200, `GET ${path} with a token`);
			}
			const gated = await fetch(`${closed.url}/${MANUAL}/resolve/main/config.json`, { headers: { authorization: `Bearer ${world.tokens.outsider}` } });
			assert.deepEqual([gated.status, gated.headers.get("x-error-code")], [403, "GatedRepo"], "a gated file with a token without access");
		} finally {
			await closed.stop();
		}
	});

	test("hubmirror audit --json shows grants, requests, decisions and refused content; no secret anywhere", { timeout: 20_000 }, async () => {
		const output = await mirrorCli(["audit", "--json"]);
		const { events } = JSON.parse(output);
		const find = (what, predicate) => {
			const event = events.find(predicate);
			assert.ok(event, `no audit event for ${what} among ${events.length}: ${JSON.stringify(events.map((e) => [e.action, e.actor, e.target, e.outcome]))}`);
			return event;
		};
		find("the operator's grant", (e) => e.action === "access.grant" && e.actor === "operator" && e.target === `model ${MANUAL}` && e.detail?.user === "granted");
		find("the revocation", (e) => e.action === "token.revoke" && e.actor === "operator" && e.target === "token laptop of leaver");
		const request = find("the manual request", (e) => e.action === "access.request" && e.actor === "asker-manual" && e.target === `model ${MANUAL}` && e.outcome === "pending");
		assert.equal(request.detail?.terms, GATE_PROMPT);
		assert.match(request.address, /^127\.0\.0\.1$/);
		find("the auto request", (e) => e.action === "access.request" && e.actor === "asker-auto" && e.target === `model ${AUTO}` && e.outcome === "accepted");
		find("the decision", (e) => e.action === "access.decide" && e.actor === "maintainer" && e.target === `model ${MANUAL}` && e.outcome === "accepted" && e.detail?.user === "asker-manual");
		find("an anonymous refused download", (e) => e.action === "content.refused" && e.actor === "anonymous" && e.target.startsWith(`model ${MANUAL}/`) && e.address.startsWith("127."));
		find("a refused download with a token", (e) => e.action === "content.refused" && e.actor === "outsider" && e.target.startsWith("model acme/accessmx-"));
		find("a settings change", (e) => e.action === "repo.settings" && e.actor === "maintainer" && e.target === `model ${PUBLIC}`);
		find("an invalid token", (e) => e.action === "auth.invalid_token" && e.outcome === "refused");
		const log = world.server.stderr();
		assert.match(log, /"audit":"access.decide"/, "the server log has the audit lines");
		for (const [who, secret] of Object.entries(world.tokens)) {
			assert.ok(!output.includes(secret), `${who}'s token is in the audit log`);
			assert.ok(!log.includes(secret), `${who}'s token is in the server log`);
		}
	});
});
