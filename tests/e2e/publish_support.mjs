// What the publishing end-to-end tests (publish*.test.mjs in this folder) share: the CLI run on
// an instance's data dir, requests to its server as the clients send them (plain, NDJSON commits,
// LFS batches, PUTs to upload URLs) and what they answer, the options that make @huggingface/hub
// act as alice, and the set-up of a repo mirrored from another instance.
//
// The helpers that need the suite's instance are made by publishHelpers(world), `world` being the
// suite's { data, url, tokens }: they read it when they run, so the set-up may fill it in later.

import assert from "node:assert/strict";

import { HubApiError } from "@huggingface/hub";

import { BIN, importRepo, runHubmirror, serveHubmirror, writeSource } from "../support/harness.mjs";
import { recordingFetch } from "./fixture.mjs";

export const describeAnswer = (res) => `${res.status} X-Error-Code=${res.headers.get("x-error-code")} ${res.text.slice(0, 300)}`;

/** A rejects() predicate: a HubApiError of `code` whose message matches `pattern`, if given. */
export const statusOf = (code, pattern) => (err) => {
	assert.ok(err instanceof HubApiError, `a HubApiError, not ${err}`);
	assert.equal(err.statusCode, code, err.message);
	if (pattern) assert.match(err.message, pattern);
	return true;
};

export const blobsOf = (files) => Object.entries(files).map(([path, content]) => ({ path, content: new Blob([content]) }));

/**
 * `repo` imported into `upstreamData` (a card and a config written to `upstreamSrc`), then synced
 * into `data` by `hubmirror sync` from a `hubmirror serve` of it, stopped afterwards.
 */
export async function syncMirrored(t, data, repo, upstreamData, upstreamSrc) {
	await writeSource(upstreamSrc, [["README.md", "# upstream model\n"], ["config.json", "{}\n"]]);
	await importRepo(t, upstreamData, upstreamSrc, repo);
	const upstream = await serveHubmirror(BIN, upstreamData);
	try {
		const sync = await runHubmirror(BIN, ["sync", "--data", data, "--upstream", upstream.url, "--retries", "1", repo], { timeoutMs: 60_000 });
		assert.equal(sync.code, 0, `hubmirror sync failed (exit ${sync.code})\nstdout:\n${sync.stdout}\nstderr:\n${sync.stderr}`);
	} finally {
		await upstream.stop();
	}
}

/** The helpers bound to `world` ({ data, url, tokens }, tokens.alice alice's write token). */
export function publishHelpers(world) {
	/** `hubmirror --data DATA ARGS...` on the instance (or on `data`), which must succeed; its stdout. */
	async function cli(args, data = world.data) {
		const run = await runHubmirror(BIN, ["--data", data, ...args]);
		assert.equal(run.code, 0, `hubmirror ${args.join(" ")} failed (exit ${run.code}): ${run.stderr}`);
		return run.stdout;
	}

	/** A write token of `user` (on the instance, or on `data`): the secret, alone on the last line. */
	async function writeToken(user, data = world.data) {
		const secret = (await cli(["token", "create", "--user", user, "--scope", "write"], data)).trimEnd().split("\n").at(-1);
		assert.match(secret, /^hf_[A-Za-z0-9]+$/, `token create --user ${user} printed no secret`);
		return secret;
	}

	/** On the instance, where alice is: her write token, bob with a write token, and lab with alice as a writer. */
	async function addPeople() {
		world.tokens.alice = await writeToken("alice");
		await cli(["user", "add", "bob"]);
		world.tokens.bob = await writeToken("bob");
		await cli(["org", "add", "lab"]);
		await cli(["org", "add-member", "lab", "alice", "--role", "write"]);
	}

	/** One request to the server (`path` on it, or a URL it gave): { status, headers, text, json() }. */
	async function call(method, path, { token, body, contentType = "application/json" } = {}) {
		const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": contentType } : {}) };
		const res = await recordingFetch(path.startsWith("http") ? path : world.url + path, { method, headers, body });
		const text = await res.text();
		return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
	}

	/** A commit to main sent as the clients send it: NDJSON, a header line first, no trailing newline. */
	function commitLines(repo, token, header, operations, server = world.url) {
		const body = [{ key: "header", value: { summary: "raw commit", ...header } }, ...operations].map((line) => JSON.stringify(line)).join("\n");
		return call("POST", `${server}/api/models/${repo}/commit/main`, { token, body, contentType: "application/x-ndjson" });
	}

	/** An LFS batch request for uploads, offering the transfers huggingface_hub offers without Xet. */
	function lfsBatch(repo, token, objects, server = world.url) {
		const body = JSON.stringify({ operation: "upload", transfers: ["basic", "multipart"], hash_algo: "sha256", objects });
		return call("POST", `${server}/${repo}.git/info/lfs/objects/batch`, { token, body, contentType: "application/vnd.git-lfs+json" });
	}

	/** A PUT of `bytes` to an upload URL: the URL authorises itself, so no token is sent. */
	const putBytes = (href, bytes) => call("PUT", href, { body: bytes, contentType: "application/octet-stream" });

	/** The commit a branch of `repo` points at. */
	async function headOf(repo, branch = "main") {
		const res = await call("GET", `/api/models/${repo}/refs`, { token: world.tokens.alice });
		assert.equal(res.status, 200, describeAnswer(res));
		return res.json().branches.find((b) => b.name === branch)?.targetCommit;
	}

	const asAlice = () => ({ hubUrl: world.url, accessToken: world.tokens.alice, fetch: recordingFetch });

	return { addPeople, asAlice, call, cli, commitLines, headOf, lfsBatch, putBytes, writeToken };
}
