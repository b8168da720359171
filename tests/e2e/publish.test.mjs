// End-to-end test of publishing with `@huggingface/hub` (hub-protocol §12): a base model imported
// with `hubmirror import`, a repo mirrored by `hubmirror sync` from a second `hubmirror serve`,
// people made with the CLI (alice with a write and a read token, bob with a write token, the
// organization lab with alice as a writer), then `hubmirror serve`:
//  - createRepo and whoAmI; uploadFiles, read back byte for byte (downloadFile, listFiles,
//    modelInfo), with the card's metadata, the lineage it records (API and `hubmirror lineage`) and
//    a signed manifest that `hubmirror check` accepts for a snapshotDownload of the new commit;
//  - deleteFile and the history; the NDJSON commit route spoken directly: a stale parentCommit, a
//    missing path, a path out of the repo, LFS content nobody uploaded, and LFS content the caller
//    may read elsewhere (the base model's weights), with the head unchanged after each refusal;
//  - branches and tags made and removed, seen at once in /refs;
//  - the refusals: anonymous, read token, another user, another organization, a mirrored repo;
//  - xet-write-token and validate-yaml; deleteRepo.
// Only "regular" files are uploaded: the LFS batch route is not served yet.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test publish.test.mjs
//
// Everything happens on 127.0.0.1 in a fresh temporary directory that is removed afterwards.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { describe, test } from "node:test";

import {
	createBranch,
	createRepo,
	deleteBranch,
	deleteFile,
	deleteRepo,
	downloadFile,
	HubApiError,
	listCommits,
	listFiles,
	modelInfo,
	snapshotDownload,
	uploadFiles,
	whoAmI,
} from "@huggingface/hub";

import { BIN, createMirrorToken, gitBlobSha1, importRepo, pseudoRandomBytes, runHubmirror, serveHubmirror, sha256Hex, useWorkRoot, writeSource } from "../support/harness.mjs";
import { recordingFetch, withTrace } from "./fixture.mjs";

const BASE = "acme-base/base-model";
const REPO = "alice/finetune";
const MIRRORED = "lab/upstream-model";
const BASE_WEIGHTS = pseudoRandomBytes("publish/base-weights", 20 * 1024 + 3);
const HEX40 = /^[0-9a-f]{40}$/;

/** What alice publishes: a card naming BASE, a config, a script and a note in folders. */
const FILES = {
	"README.md": Buffer.from(`---\nbase_model: ${BASE}\nlicense: apache-2.0\n---\n\n# finetune\n\nTrained on ${BASE}.\n`),
	"config.json": Buffer.from(JSON.stringify({ architectures: ["BertModel"], model_type: "bert", hidden_size: 64 }, null, 2) + "\n"),
	"src/train.py": Buffer.from("import json\n\nprint(json.dumps({'epochs': 3}))\n"),
	"notes/a.txt": Buffer.from("first run: loss 0.42\n"),
};

/** The data dir, its server and URL, the people's tokens, and what the tests learn on the way. */
const world = { data: "", server: undefined, url: "", tokens: {}, initial: "", published: "" };

/** `hubmirror --data DATA ARGS...` on the instance, which must succeed; its stdout. */
async function cli(args) {
	const run = await runHubmirror(BIN, ["--data", world.data, ...args]);
	assert.equal(run.code, 0, `hubmirror ${args.join(" ")} failed (exit ${run.code}): ${run.stderr}`);
	return run.stdout;
}

/** A write token of `user`: the secret, alone on the last line. */
async function writeToken(user) {
	const secret = (await cli(["token", "create", "--user", user, "--scope", "write"])).trimEnd().split("\n").at(-1);
	assert.match(secret, /^hf_[A-Za-z0-9]+$/, `token create --user ${user} printed no secret`);
	return secret;
}

const work = useWorkRoot("hubmirror-e2e-publish-", {
	timeout: 60_000,
	async setup(root, t) {
		world.data = root.dir("data");
		const baseSrc = root.dir("base-src");
		await writeSource(baseSrc, [
			["README.md", "---\nlicense: apache-2.0\n---\n\n# base-model\n"],
			["config.json", '{"model_type": "bert"}\n'],
			["model.safetensors", BASE_WEIGHTS],
		]);
		await importRepo(t, world.data, baseSrc, BASE);
		// MIRRORED comes from another instance, so this one keeps its sync state: a mirrored repo.
		const upstreamData = root.dir("upstream");
		const upstreamSrc = root.dir("upstream-src");
		await writeSource(upstreamSrc, [["README.md", "# upstream model\n"], ["config.json", "{}\n"]]);
		await importRepo(t, upstreamData, upstreamSrc, MIRRORED);
		const upstream = await serveHubmirror(BIN, upstreamData);
		try {
			const sync = await runHubmirror(BIN, ["sync", "--data", world.data, "--upstream", upstream.url, "--retries", "1", MIRRORED], { timeoutMs: 60_000 });
			assert.equal(sync.code, 0, `hubmirror sync failed (exit ${sync.code})\nstdout:\n${sync.stdout}\nstderr:\n${sync.stderr}`);
		} finally {
			await upstream.stop();
		}
		world.tokens.aliceRead = await createMirrorToken(BIN, world.data, "alice");
		world.tokens.alice = await writeToken("alice");
		await cli(["user", "add", "bob"]);
		world.tokens.bob = await writeToken("bob");
		await cli(["org", "add", "lab"]);
		await cli(["org", "add-member", "lab", "alice", "--role", "write"]);
		world.server = await serveHubmirror(BIN, world.data, { keepStderr: 8000 });
		world.url = world.server.url;
	},
	async teardown() {
		await world.server?.stop();
	},
});

/** One request to the server: { status, headers, text, json() }. */
async function call(method, path, { token, body, contentType = "application/json" } = {}) {
	const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": contentType } : {}) };
	const res = await recordingFetch(world.url + path, { method, headers, body });
	const text = await res.text();
	return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

const describeAnswer = (res) => `${res.status} X-Error-Code=${res.headers.get("x-error-code")} ${res.text.slice(0, 300)}`;

/** A commit sent as the clients send it: NDJSON, a header line first, no trailing newline. */
function commitLines(repo, token, header, operations, branch = "main") {
	const body = [{ key: "header", value: { summary: "raw commit", ...header } }, ...operations].map((line) => JSON.stringify(line)).join("\n");
	return call("POST", `/api/models/${repo}/commit/${branch}`, { token, body, contentType: "application/x-ndjson" });
}

/** The commit a branch of `repo` points at. */
async function headOf(repo, branch = "main") {
	const res = await call("GET", `/api/models/${repo}/refs`, { token: world.tokens.alice });
	assert.equal(res.status, 200, describeAnswer(res));
	return res.json().branches.find((b) => b.name === branch)?.targetCommit;
}

/** The files listFiles shows at `revision`, path -> oid. */
async function filesOf(repo, revision = "main") {
	const out = {};
	for await (const entry of listFiles({ repo, revision, recursive: true, hubUrl: world.url, accessToken: world.tokens.alice, fetch: recordingFetch })) {
		if (entry.type === "file") out[entry.path] = entry.oid;
	}
	return out;
}

/** The titles of the history of `repo`, newest first. */
async function titlesOf(repo, revision = "main") {
	const titles = [];
	for await (const c of listCommits({ repo, revision, hubUrl: world.url, accessToken: world.tokens.alice, fetch: recordingFetch })) titles.push(c.title);
	return titles;
}

/** A rejects() predicate: a HubApiError of `code` whose message matches `pattern`, if given. */
const statusOf = (code, pattern) => (err) => {
	assert.ok(err instanceof HubApiError, `a HubApiError, not ${err}`);
	assert.equal(err.statusCode, code, err.message);
	if (pattern) assert.match(err.message, pattern);
	return true;
};

const asAlice = () => ({ hubUrl: world.url, accessToken: world.tokens.alice, fetch: recordingFetch });
const blobsOf = (files) => Object.entries(files).map(([path, content]) => ({ path, content: new Blob([content]) }));

describe("publishing to hubmirror with @huggingface/hub", () => {
	test("createRepo makes a repo with the Hub's initial commit; again is 409; whoAmI", { timeout: 20_000 }, async (t) => {
		await withTrace(t, async () => {
			const created = await createRepo({ repo: REPO, ...asAlice() });
			assert.equal(created.repoUrl, `${world.url}/${REPO}`);
			assert.match(created.id, /^[0-9a-f]{24}$/);
			await assert.rejects(createRepo({ repo: REPO, ...asAlice() }), statusOf(409), "createRepo of an existing repo");
			const again = await call("POST", "/api/repos/create", { token: world.tokens.alice, body: JSON.stringify({ name: "finetune", organization: "alice" }) });
			assert.equal(again.status, 409, describeAnswer(again));
			assert.equal(again.json().url, `${world.url}/${REPO}`, "a 409 still names the repo's URL");

			assert.deepEqual(await titlesOf(REPO), ["initial commit"]);
			const files = await filesOf(REPO);
			assert.deepEqual(Object.keys(files), [".gitattributes"]);
			const attributes = await (await downloadFile({ repo: REPO, path: ".gitattributes", ...asAlice() })).text();
			assert.match(attributes, /^\*\.safetensors filter=lfs diff=lfs merge=lfs -text$/m);
			world.initial = await headOf(REPO);
			assert.match(world.initial, HEX40);

			const me = await whoAmI(asAlice());
			assert.equal(me.name, "alice");
			assert.ok(me.orgs.some((o) => o.name === "lab"), `alice's orgs: ${JSON.stringify(me.orgs)}`);
			assert.equal(me.auth.accessToken.role, "write");
		});
	});

	test("uploadFiles commits; the files, card, lineage and signed manifest follow", { timeout: 30_000 }, async (t) => {
		await withTrace(t, async () => {
			const out = await uploadFiles({ repo: REPO, files: blobsOf(FILES), commitTitle: "Add the fine-tune", ...asAlice() });
			const oid = out?.commit.oid;
			assert.match(oid ?? "", HEX40);
			assert.equal(out.commit.url, `${world.url}/${REPO}/commit/${oid}`);
			assert.equal(await headOf(REPO), oid, "main moved to the new commit");
			world.published = oid;

			for (const [path, content] of Object.entries(FILES)) {
				const blob = await downloadFile({ repo: REPO, path, ...asAlice() });
				const bytes = Buffer.from(await blob.arrayBuffer());
				assert.equal(sha256Hex(bytes), sha256Hex(content), `${path}: sha256`);
				assert.ok(bytes.equals(content), `${path}: bytes`);
			}
			const listed = await filesOf(REPO);
			assert.deepEqual(Object.keys(listed).sort(), [".gitattributes", ...Object.keys(FILES)].sort());
			for (const [path, content] of Object.entries(FILES)) assert.equal(listed[path], gitBlobSha1(content), `${path}: listFiles oid`);
			const info = await modelInfo({ name: REPO, additionalFields: ["sha"], ...asAlice() });
			assert.equal(info.sha, oid);

			const raw = await call("GET", `/api/models/${REPO}`);
			assert.equal(raw.status, 200, describeAnswer(raw));
			const details = raw.json();
			assert.deepEqual(details.cardData, { base_model: BASE, license: "apache-2.0" });
			for (const tag of ["license:apache-2.0", `base_model:${BASE}`]) assert.ok(details.tags.includes(tag), `tag ${tag} in ${JSON.stringify(details.tags)}`);

			const isChild = (graph) => graph.edges.some((e) => e.child === REPO && e.parent === BASE);
			const down = await call("GET", `/api/lineage/models/${BASE}?direction=down`);
			assert.equal(down.status, 200, describeAnswer(down));
			assert.ok(isChild(down.json()), `the API's lineage of ${BASE}: ${down.text}`);
			const cliLineage = await cli(["lineage", BASE, "--down", "--format", "json"]);
			assert.ok(isChild(JSON.parse(cliLineage)), `hubmirror lineage ${BASE} --down: ${cliLineage}`);

			// The new commit is signed like any other: `hubmirror check` accepts its snapshot.
			const folder = await snapshotDownload({ repo: REPO, cacheDir: work.dir("cache"), ...asAlice() });
			const key = await call("GET", "/api/integrity/key");
			assert.equal(key.status, 200, describeAnswer(key));
			const keyFile = work.dir("key.pem");
			await writeFile(keyFile, key.text);
			const signed = await call("GET", `/api/integrity/models/${REPO}/main`);
			assert.equal(signed.status, 200, describeAnswer(signed));
			const { manifest } = signed.json();
			assert.deepEqual([manifest.repo, manifest.commit], [REPO, oid]);
			assert.deepEqual(manifest.files.map((f) => f.path).sort(), Object.keys(listed).sort());
			const manifestFile = work.dir("manifest.json");
			await writeFile(manifestFile, signed.text);
			const check = await runHubmirror(BIN, ["check", "--manifest", manifestFile, "--key", keyFile, folder]);
			assert.equal(check.code, 0, `hubmirror check (exit ${check.code})\nstdout:\n${check.stdout}\nstderr:\n${check.stderr}`);
			assert.match(check.stdout, /^5 ok, 0 mismatched, 0 missing, 0 unexpected$/m);
		});
	});

	test("deleteFile removes a file; the history lists each commit", { timeout: 20_000 }, async (t) => {
		await withTrace(t, async () => {
			const out = await deleteFile({ repo: REPO, path: "notes/a.txt", ...asAlice() });
			assert.match(out?.commit.oid ?? "", HEX40);
			assert.equal(await headOf(REPO), out.commit.oid);
			assert.deepEqual(Object.keys(await filesOf(REPO)).sort(), [".gitattributes", "README.md", "config.json", "src/train.py"]);
			assert.deepEqual(await titlesOf(REPO), ["Delete notes/a.txt", "Add the fine-tune", "initial commit"]);
			const commits = await call("GET", `/api/models/${REPO}/commits/main`);
			assert.deepEqual(commits.json().map((c) => [c.id, c.authors[0]?.user]).slice(0, 2), [
				[out.commit.oid, "alice"],
				[world.published, "alice"],
			]);
		});
	});

	test("the commit route refuses stale parents, missing paths, escaping paths and unknown LFS content", { timeout: 20_000 }, async (t) => {
		await withTrace(t, async () => {
			const alice = world.tokens.alice;
			const head = await headOf(REPO);
			const note = { key: "file", value: { path: "late.txt", content: Buffer.from("late\n").toString("base64"), encoding: "base64" } };

			const stale = await commitLines(REPO, alice, { parentCommit: world.initial }, [note]);
			assert.equal(stale.status, 412, describeAnswer(stale));
			assert.match(stale.json().error, /The branch was updated since you opened this page/);
			const missing = await commitLines(REPO, alice, {}, [{ key: "deletedFile", value: { path: "notes/a.txt" } }]);
			assert.equal(missing.status, 404, describeAnswer(missing));
			assert.equal(missing.headers.get("x-error-code"), "EntryNotFound");
			assert.match(missing.json().error, /A file with this name doesn't exist/);
			const escaping = await commitLines(REPO, alice, {}, [{ ...note, value: { ...note.value, path: "../x" } }]);
			assert.equal(escaping.status, 422, describeAnswer(escaping));
			const unknown = randomBytes(32).toString("hex");
			const guessed = await commitLines(REPO, alice, {}, [note, { key: "lfsFile", value: { path: "w.safetensors", algo: "sha256", oid: unknown, size: 10 } }]);
			assert.equal(guessed.status, 422, describeAnswer(guessed));
			assert.equal(await headOf(REPO), head, "nothing was committed by the refused requests");

			// The base model's weights are public: alice may name them by digest alone.
			const weights = { path: "weights/model.safetensors", algo: "sha256", oid: sha256Hex(BASE_WEIGHTS), size: BASE_WEIGHTS.length };
			const reused = await commitLines(REPO, alice, { summary: "Reuse the base weights", parentCommit: head }, [{ key: "lfsFile", value: weights }]);
			assert.equal(reused.status, 200, describeAnswer(reused));
			const answer = reused.json();
			assert.equal(answer.success, true);
			assert.match(answer.commitOid, HEX40);
			assert.equal(answer.commitUrl, `${world.url}/${REPO}/commit/${answer.commitOid}`);
			assert.equal(await headOf(REPO), answer.commitOid);
			const blob = await downloadFile({ repo: REPO, path: weights.path, ...asAlice() });
			assert.ok(Buffer.from(await blob.arrayBuffer()).equals(BASE_WEIGHTS), "the reused weights download with the base model's bytes");

			// Preupload sends the weights to LFS, a card inline, and names what is already there.
			const files = [{ path: "more.safetensors", size: 100 }, { path: "README.md", size: 10 }, { path: "config.json", size: FILES["config.json"].length }];
			const preupload = await call("POST", `/api/models/${REPO}/preupload/main`, { token: alice, body: JSON.stringify({ files }) });
			assert.equal(preupload.status, 200, describeAnswer(preupload));
			const modes = preupload.json().files.map((f) => [f.path, f.uploadMode, f.shouldIgnore, f.oid]);
			assert.deepEqual(modes, [
				["more.safetensors", "lfs", false, undefined],
				["README.md", "regular", false, gitBlobSha1(FILES["README.md"])],
				["config.json", "regular", false, gitBlobSha1(FILES["config.json"])],
			]);
			assert.equal(preupload.json().commitOid, answer.commitOid);

			// Committing what is already there changes nothing: the head comes back.
			const same = await uploadFiles({ repo: REPO, files: blobsOf({ "config.json": FILES["config.json"] }), ...asAlice() });
			assert.equal(same?.commit.oid, answer.commitOid);
			assert.equal((await titlesOf(REPO)).length, 4);
		});
	});

	test("branches and tags are made and removed, and /refs shows them at once", { timeout: 20_000 }, async (t) => {
		await withTrace(t, async () => {
			const refs = async () => (await call("GET", `/api/models/${REPO}/refs`, { token: world.tokens.alice })).json();
			const head = await headOf(REPO);
			await createBranch({ repo: REPO, branch: "experiment", ...asAlice() });
			await createBranch({ repo: REPO, branch: "from-start", revision: world.initial, ...asAlice() });
			assert.equal(await headOf(REPO, "experiment"), head);
			assert.equal(await headOf(REPO, "from-start"), world.initial);
			await assert.rejects(createBranch({ repo: REPO, branch: "experiment", ...asAlice() }), statusOf(409), "an existing branch");

			const out = await uploadFiles({ repo: REPO, branch: "experiment", files: blobsOf({ "exp.txt": "try\n" }), ...asAlice() });
			assert.equal(await headOf(REPO, "experiment"), out.commit.oid);
			assert.equal(await headOf(REPO), head, "main did not move");
			assert.ok("exp.txt" in (await filesOf(REPO, "experiment")));

			await deleteBranch({ repo: REPO, branch: "experiment", ...asAlice() });
			assert.deepEqual((await refs()).branches.map((b) => b.name).sort(), ["from-start", "main"]);
			await assert.rejects(deleteBranch({ repo: REPO, branch: "experiment", ...asAlice() }), statusOf(404), "a deleted branch");
			await assert.rejects(deleteBranch({ repo: REPO, branch: "main", ...asAlice() }), statusOf(403), "the default branch");

			const tag = (rev, body) => call("POST", `/api/models/${REPO}/tag/${rev}`, { token: world.tokens.alice, body: JSON.stringify(body) });
			const made = await tag("main", { tag: "v1.0", message: "first release" });
			assert.equal(made.status, 200, describeAnswer(made));
			assert.deepEqual((await refs()).tags, [{ name: "v1.0", ref: "refs/tags/v1.0", targetCommit: head }]);
			assert.equal((await tag("main", { tag: "v1.0" })).status, 409, "a duplicate tag");
			const unknownRev = await tag("no-such-branch", { tag: "v2.0" });
			assert.equal(unknownRev.status, 404, describeAnswer(unknownRev));
			assert.equal(unknownRev.headers.get("x-error-code"), "RevisionNotFound");
			const removed = await call("DELETE", `/api/models/${REPO}/tag/v1.0`, { token: world.tokens.alice });
			assert.equal(removed.status, 200, describeAnswer(removed));
			assert.deepEqual((await refs()).tags ?? [], []);
			assert.equal((await call("DELETE", `/api/models/${REPO}/tag/v1.0`, { token: world.tokens.alice })).status, 404, "a deleted tag");
		});
	});

	test("refusals: anonymous, a read token, another user, another organization, a mirrored repo", { timeout: 20_000 }, async (t) => {
		await withTrace(t, async () => {
			const anonymous = await call("POST", "/api/repos/create", { body: JSON.stringify({ name: "anon", organization: "alice" }) });
			assert.deepEqual([anonymous.status, anonymous.headers.get("x-error-code")], [401, "Unauthorized"], describeAnswer(anonymous));
			const reader = { hubUrl: world.url, accessToken: world.tokens.aliceRead, fetch: recordingFetch };
			await assert.rejects(createRepo({ repo: "alice/by-reader", ...reader }), statusOf(403), "createRepo with a read token");
			await assert.rejects(uploadFiles({ repo: REPO, files: blobsOf({ "r.txt": "r\n" }), ...reader }), statusOf(403), "uploadFiles with a read token");

			const head = await headOf(REPO);
			const bob = { hubUrl: world.url, accessToken: world.tokens.bob, fetch: recordingFetch };
			await assert.rejects(uploadFiles({ repo: REPO, files: blobsOf({ "bob.txt": "bob\n" }), ...bob }), statusOf(403), "bob's uploadFiles to alice's repo");
			const bobRaw = await commitLines(REPO, world.tokens.bob, {}, [{ key: "deletedFile", value: { path: "config.json" } }]);
			assert.deepEqual([bobRaw.status, bobRaw.headers.get("x-error-code")], [403, "Forbidden"], describeAnswer(bobRaw));
			await assert.rejects(deleteRepo({ repo: REPO, ...bob }), statusOf(403), "bob's deleteRepo of alice's repo");
			assert.equal(await headOf(REPO), head, "bob changed nothing");

			// Content stored for alice's private repo is not bob's to claim by its digest.
			const secret = Buffer.from("alice's private notes\n");
			await createRepo({ repo: "alice/private-notes", private: true, ...asAlice() });
			await uploadFiles({ repo: "alice/private-notes", files: blobsOf({ "notes.txt": secret }), ...asAlice() });
			await createRepo({ repo: "bob/scratch", ...bob });
			const claim = { key: "lfsFile", value: { path: "stolen.bin", algo: "sha256", oid: sha256Hex(secret), size: secret.length } };
			const claimed = await commitLines("bob/scratch", world.tokens.bob, {}, [claim]);
			assert.equal(claimed.status, 422, describeAnswer(claimed));
			assert.deepEqual(await titlesOf("bob/scratch"), ["initial commit"]);

			const shared = await createRepo({ repo: "lab/shared", ...asAlice() });
			assert.equal(shared.repoUrl, `${world.url}/lab/shared`);
			await assert.rejects(createRepo({ repo: "lab/bobs", ...bob }), statusOf(403), "bob is not a member of lab");

			// A mirrored repo keeps the upstream's content, even for a writer of its namespace.
			const mirroredHead = await headOf(MIRRORED);
			await assert.rejects(uploadFiles({ repo: MIRRORED, files: blobsOf({ "x.txt": "x\n" }), ...asAlice() }), statusOf(403, /mirrored/), "uploadFiles to a mirrored repo");
			const raw = await commitLines(MIRRORED, world.tokens.alice, {}, [{ key: "deletedFile", value: { path: "config.json" } }]);
			assert.equal(raw.status, 403, describeAnswer(raw));
			assert.match(raw.json().error, /mirrored/);
			await assert.rejects(createBranch({ repo: MIRRORED, branch: "mine", ...asAlice() }), statusOf(403, /mirrored/), "a branch in a mirrored repo");
			await assert.rejects(deleteRepo({ repo: MIRRORED, ...asAlice() }), statusOf(403, /mirrored/), "deleteRepo of a mirrored repo");
			assert.equal(await headOf(MIRRORED), mirroredHead);
		});
	});

	test("xet-write-token is 404 naming HF_HUB_DISABLE_XET; validate-yaml accepts", { timeout: 10_000 }, async (t) => {
		await withTrace(t, async () => {
			const xet = await call("GET", `/api/models/${REPO}/xet-write-token/main`, { token: world.tokens.alice });
			assert.equal(xet.status, 404, describeAnswer(xet));
			assert.match(xet.json().error, /HF_HUB_DISABLE_XET/);
			const yaml = await call("POST", "/api/validate-yaml", { token: world.tokens.alice, body: JSON.stringify({ content: FILES["README.md"].toString(), repoType: "model" }) });
			assert.equal(yaml.status, 200, describeAnswer(yaml));
			assert.deepEqual(yaml.json(), { errors: [], warnings: [] });
		});
	});

	test("deleteRepo removes the repo and its lineage; a second delete is 404", { timeout: 20_000 }, async (t) => {
		await withTrace(t, async () => {
			await deleteRepo({ repo: REPO, ...asAlice() });
			await assert.rejects(modelInfo({ name: REPO, ...asAlice() }), statusOf(404), "modelInfo of the deleted repo");
			const down = await call("GET", `/api/lineage/models/${BASE}?direction=down`);
			assert.ok(!down.json().edges.some((e) => e.child === REPO), `the lineage of ${BASE} after the delete: ${down.text}`);
			const again = await call("DELETE", "/api/repos/delete", { token: world.tokens.alice, body: JSON.stringify({ name: "finetune", organization: "alice", type: "model" }) });
			assert.deepEqual([again.status, again.headers.get("x-error-code")], [404, "RepoNotFound"], describeAnswer(again));
			// The base model it reused weights from is untouched.
			const base = await downloadFile({ repo: BASE, path: "model.safetensors", hubUrl: world.url });
			assert.ok(Buffer.from(await base.arrayBuffer()).equals(BASE_WEIGHTS));
		});
	});
});
