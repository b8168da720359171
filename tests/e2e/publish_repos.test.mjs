// End-to-end test of what publishing does to repos and refs beyond commits (hub-protocol §12),
// with `@huggingface/hub` and the routes spoken directly: a base model imported with `hubmirror
// import`, a repo mirrored by a plain `hubmirror sync` from a second `hubmirror serve`, alice with a
// write token, bob with one, the organization lab with alice as a writer, then `hubmirror serve`:
//  - a pull request (or discussion) opened is refused with what to do instead; 401 anonymous,
//    405 for a GET;
//  - /api/repos/move into lab: the repo keeps its commit and files under the new name, the old one
//    is gone, the lineage its card declares follows it; moving onto an existing repo (409), into a
//    namespace alice may not write (403), by someone who may not write the repo (403), a mirrored
//    repo (403); the move is in the audit log;
//  - tags and branches made at a commit named by a short id (7 or 10 hex digits), 404 for one that
//    names no commit of the repo;
//  - a mirrored repo whose [[mirror]] rule says `writable = true`, on a `serve --config` instance
//    syncing it from the second server: alice adds a branch, commits to it, adds a tag, while main
//    and the repo as a whole stay the upstream's, and a later pass leaves her refs alone; without
//    `writable` (the plain sync) a branch is refused naming that key.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test publish_repos.test.mjs
//
// Everything happens on 127.0.0.1 in a fresh temporary directory that is removed afterwards.

import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";

import { createBranch, createRepo, deleteRepo, downloadFile, listFiles, uploadFiles } from "@huggingface/hub";

import { BIN, importRepo, serveHubmirror, useWorkRoot, writeSource } from "../support/harness.mjs";
import { recordingFetch, withTrace } from "./fixture.mjs";
import { blobsOf, describeAnswer, publishHelpers, statusOf, syncMirrored } from "./publish_support.mjs";

const BASE = "acme-base/base-model";
const MIRRORED = "lab/upstream-model";
const HEX40 = /^[0-9a-f]{40}$/;

/** The data dirs, the server and URL, the people's tokens, and the base model's commit. */
const world = { data: "", upstreamData: "", server: undefined, url: "", tokens: {}, baseCommit: "" };

const { addPeople, asAlice, call, cli, writeToken } = publishHelpers(world);

const work = useWorkRoot("hubmirror-e2e-publish-repos-", {
	timeout: 60_000,
	async setup(root, t) {
		world.data = root.dir("data");
		const baseSrc = root.dir("base-src");
		await writeSource(baseSrc, [
			["README.md", "---\nlicense: apache-2.0\n---\n\n# base-model\n"],
			["config.json", '{"model_type": "bert"}\n'],
		]);
		world.baseCommit = await importRepo(t, world.data, baseSrc, BASE);
		// MIRRORED comes from another instance, so this one keeps its sync state: a mirrored repo.
		// The other instance is served again by the test of the writable rule.
		world.upstreamData = root.dir("upstream");
		await syncMirrored(t, world.data, MIRRORED, world.upstreamData, root.dir("upstream-src"));
		await cli(["user", "add", "alice"]);
		await addPeople();
		world.server = await serveHubmirror(BIN, world.data, { keepStderr: 8000 });
		world.url = world.server.url;
	},
	async teardown() {
		await world.server?.stop();
	},
});

/** The refs of `repo` on `server` as `token`'s owner sees them (null: anonymously): { branches, tags }, name -> commit. */
async function refsOf(repo, server = world.url, token = world.tokens.alice) {
	const res = await call("GET", `${server}/api/models/${repo}/refs`, { token });
	assert.equal(res.status, 200, describeAnswer(res));
	const named = (refs) => Object.fromEntries((refs ?? []).map((r) => [r.name, r.targetCommit]));
	return { branches: named(res.json().branches), tags: named(res.json().tags) };
}

/** POST /api/repos/move as `token`'s owner. */
const move = (fromRepo, toRepo, token = world.tokens.alice) =>
	call("POST", "/api/repos/move", { token, body: JSON.stringify({ fromRepo, toRepo, type: "model" }) });

describe("repos and refs published to hubmirror", () => {
	test("opening a pull request is refused with what to do instead; 401 anonymous, 405 for a GET", { timeout: 20_000 }, async (t) => {
		await withTrace(t, async () => {
			await createRepo({ repo: "alice/x", ...asAlice() });
			const route = "/api/models/alice/x/discussions";
			// What huggingface_hub's create_pull_request sends.
			const body = JSON.stringify({ title: "t", description: "d", pullRequest: true });
			const refused = await call("POST", route, { token: world.tokens.alice, body });
			assert.equal(refused.status, 400, describeAnswer(refused));
			assert.equal(refused.json().error, "pull requests are not supported here: commit to a branch instead");
			const anonymous = await call("POST", route, { body });
			assert.equal(anonymous.status, 401, describeAnswer(anonymous));
			const read = await call("GET", route, { token: world.tokens.alice });
			assert.equal(read.status, 405, describeAnswer(read));
		});
	});

	test("a move into lab keeps the commit, files and lineage under the new name; refused moves", { timeout: 30_000 }, async (t) => {
		await withTrace(t, async () => {
			await createRepo({ repo: "alice/a", ...asAlice() });
			const card = `---\nbase_model: ${BASE}\n---\n\n# a\n\nTrained on ${BASE}.\n`;
			await uploadFiles({ repo: "alice/a", files: blobsOf({ "README.md": card, "config.json": '{"hidden_size": 8}\n' }), ...asAlice() });
			const info = async (repo) => call("GET", `/api/models/${repo}`, { token: world.tokens.alice });
			const before = (await info("alice/a")).json();
			assert.match(before.sha, HEX40);
			const filesOf = (details) => details.siblings.map((s) => s.rfilename).sort();
			assert.deepEqual(filesOf(before), [".gitattributes", "README.md", "config.json"]);
			const children = async () => {
				const down = await call("GET", `/api/lineage/models/${BASE}?direction=down`);
				assert.equal(down.status, 200, describeAnswer(down));
				return down.json().edges.filter((e) => e.parent === BASE).map((e) => e.child);
			};
			assert.deepEqual(await children(), ["alice/a"]);

			const moved = await move("alice/a", "lab/a");
			assert.equal(moved.status, 200, describeAnswer(moved));
			const after = await info("lab/a");
			assert.equal(after.status, 200, describeAnswer(after));
			assert.deepEqual([after.json().id, after.json().sha, filesOf(after.json())], ["lab/a", before.sha, filesOf(before)]);
			const config = await downloadFile({ repo: "lab/a", path: "config.json", ...asAlice() });
			assert.equal(await config.text(), '{"hidden_size": 8}\n');
			const gone = await info("alice/a");
			assert.deepEqual([gone.status, gone.headers.get("x-error-code")], [404, "RepoNotFound"], describeAnswer(gone));
			assert.deepEqual(await children(), ["lab/a"], "the card's lineage follows the move");
			const up = await call("GET", "/api/lineage/models/lab/a?direction=up");
			assert.equal(up.status, 200, describeAnswer(up));
			assert.ok(up.json().edges.some((e) => e.child === "lab/a" && e.parent === BASE), `the lineage of lab/a: ${up.text}`);

			// Refused: onto a repo that exists (in any case), into bob's namespace, by bob, and a
			// mirrored repo, whose place is its mirror rule's to decide.
			await createRepo({ repo: "lab/taken", ...asAlice() });
			for (const to of ["lab/taken", "LAB/Taken"]) {
				const taken = await move("lab/a", to);
				assert.equal(taken.status, 409, `onto ${to}: ${describeAnswer(taken)}`);
				assert.match(taken.json().error, /already exists/);
			}
			const elsewhere = await move("lab/a", "bob/a");
			assert.equal(elsewhere.status, 403, describeAnswer(elsewhere));
			const byBob = await move("lab/a", "bob/a", world.tokens.bob);
			assert.equal(byBob.status, 403, describeAnswer(byBob));
			const mirrored = await move(MIRRORED, "lab/renamed");
			assert.equal(mirrored.status, 403, describeAnswer(mirrored));
			assert.match(mirrored.json().error, /mirrored/);
			assert.equal((await info(MIRRORED)).status, 200, "the mirrored repo stays where it is");
			assert.equal((await info("lab/renamed")).status, 404);
			assert.equal((await info("lab/a")).json().sha, before.sha, "the refused moves changed nothing");
			assert.equal((await info("bob/a")).status, 404);

			const { events } = JSON.parse(await cli(["audit", "--json"]));
			const recorded = events.filter((e) => e.action === "repo.move");
			assert.deepEqual(
				recorded.map((e) => [e.actor, e.target, e.outcome, e.detail?.to]),
				[["alice", "model alice/a", "ok", "lab/a"]],
				`the audit log's moves: ${JSON.stringify(recorded)}`,
			);
		});
	});

	test("a tag and a branch at a commit named by a short id; 404 for one that names no commit of the repo", { timeout: 20_000 }, async (t) => {
		await withTrace(t, async () => {
			const repo = "alice/short-ids";
			await createRepo({ repo, ...asAlice() });
			const first = (await uploadFiles({ repo, files: blobsOf({ "a.txt": "one\n" }), ...asAlice() })).commit.oid;
			const second = (await uploadFiles({ repo, files: blobsOf({ "a.txt": "two\n" }), ...asAlice() })).commit.oid;
			assert.match(first, HEX40);
			assert.notEqual(first, second);
			assert.equal((await refsOf(repo)).branches.main, second);

			const tag = (revision, name) => call("POST", `/api/models/${repo}/tag/${revision}`, { token: world.tokens.alice, body: JSON.stringify({ tag: name }) });
			const tagged = await tag(first.slice(0, 7), "v0");
			assert.equal(tagged.status, 200, describeAnswer(tagged));
			assert.equal((await refsOf(repo)).tags.v0, first, "v0 names the whole commit id");
			await createBranch({ repo, branch: "from-first", revision: first.slice(0, 10), ...asAlice() });
			assert.equal((await refsOf(repo)).branches["from-first"], first);
			const listed = [];
			for await (const entry of listFiles({ repo, revision: "from-first", ...asAlice() })) listed.push(entry.path);
			assert.ok(listed.includes("a.txt"));
			const read = await downloadFile({ repo, path: "a.txt", revision: "v0", ...asAlice() });
			assert.equal(await read.text(), "one\n");

			// Short ids that name nothing here: no commit of the repo, a commit of another repo, and
			// fewer than 7 digits.
			const ids = [first, second, (await refsOf(repo)).branches.main];
			let unknown = "0000000";
			while (ids.some((id) => id.startsWith(unknown))) unknown = (Number.parseInt(unknown, 16) + 1).toString(16).padStart(7, "0");
			assert.ok(!ids.some((id) => id.startsWith(world.baseCommit.slice(0, 7))));
			for (const [what, revision] of [
				["no commit", unknown],
				["another repo's commit", world.baseCommit.slice(0, 7)],
				["6 digits", first.slice(0, 6)],
			]) {
				const res = await tag(revision, `v-${what.replaceAll(/[^a-z0-9]/g, "")}`);
				assert.deepEqual([res.status, res.headers.get("x-error-code")], [404, "RevisionNotFound"], `a tag at ${what}: ${describeAnswer(res)}`);
				await assert.rejects(createBranch({ repo, branch: "nowhere", revision, ...asAlice() }), statusOf(404), `a branch at ${what}`);
			}
			const refs = await refsOf(repo);
			assert.deepEqual(Object.keys(refs.tags), ["v0"]);
			assert.deepEqual(Object.keys(refs.branches).sort(), ["from-first", "main"]);
		});
	});

	test("a mirrored repo whose rule says writable takes branches and tags of alice's; main and the repo stay the upstream's", { timeout: 90_000 }, async (t) => {
		// Without `writable`, as synced by the set-up, the repo takes no branch; the refusal names the key.
		await assert.rejects(createBranch({ repo: MIRRORED, branch: "mine", ...asAlice() }), statusOf(403, /writable = true/), "a branch without writable");

		const upstream = await serveHubmirror(BIN, world.upstreamData);
		const data = work.dir("writable-data");
		const configFile = work.dir("writable.toml");
		await writeFile(configFile, ["[upstream]", `url = "${upstream.url}"`, "", "[schedule]", "interval_seconds = 3600", "", "[[mirror]]", `repo = "${MIRRORED}"`, "writable = true", ""].join("\n"));
		const server = await serveHubmirror(BIN, data, { args: ["--config", configFile], keepStderr: 8000 });
		try {
			// serve makes the registry; the people are added to it while it runs.
			await cli(["user", "add", "alice"], data);
			await cli(["user", "add", "root", "--admin"], data);
			await cli(["org", "add", "lab"], data);
			await cli(["org", "add-member", "lab", "alice", "--role", "write"], data);
			const tokens = { alice: await writeToken("alice", data), root: await writeToken("root", data) };
			const as = { hubUrl: server.url, accessToken: tokens.alice, fetch: recordingFetch };
			// The rule's writable flag is applied once the sync is recorded: wait for the whole pass.
			const syncJobs = async () => {
				const res = await call("GET", `${server.url}/api/admin/jobs`, { token: tokens.root });
				assert.equal(res.status, 200, describeAnswer(res));
				return res.json().jobs.filter((j) => j.kind === "sync");
			};
			/** The sync job `pick` chooses among those listed, once it has finished; fails after 60 s. */
			const finished = async (what, pick) => {
				const deadline = Date.now() + 60_000;
				for (;;) {
					const job = pick(await syncJobs());
					if (["succeeded", "failed", "cancelled"].includes(job?.state)) return job;
					assert.ok(Date.now() < deadline, `${what} not finished in 60 s: ${JSON.stringify(job)}`);
					await sleep(100);
				}
			};
			const first = await finished("the schedule's first pass", (jobs) => jobs.find((j) => j.trigger === "schedule"));
			assert.equal(first.state, "succeeded", first.error);
			const synced = await call("GET", `${server.url}/api/models/${MIRRORED}`, { token: tokens.alice });
			assert.equal(synced.status, 200, describeAnswer(synced));

			await withTrace(t, async () => {
				const upstreamMain = (await refsOf(MIRRORED, upstream.url, null)).branches.main;
				assert.equal((await refsOf(MIRRORED, server.url, tokens.alice)).branches.main, upstreamMain);

				await createBranch({ repo: MIRRORED, branch: "mine", ...as });
				const out = await uploadFiles({ repo: MIRRORED, branch: "mine", files: blobsOf({ "notes.txt": "alice's notes\n" }), ...as });
				assert.match(out?.commit.oid ?? "", HEX40);
				const notes = await downloadFile({ repo: MIRRORED, path: "notes.txt", revision: "mine", ...as });
				assert.equal(await notes.text(), "alice's notes\n");

				await assert.rejects(uploadFiles({ repo: MIRRORED, files: blobsOf({ "x.txt": "x\n" }), ...as }), statusOf(403, /mirrored/), "uploadFiles to main");
				const tagged = await call("POST", `${server.url}/api/models/${MIRRORED}/tag/main`, { token: tokens.alice, body: JSON.stringify({ tag: "v-local" }) });
				assert.equal(tagged.status, 200, describeAnswer(tagged));
				await assert.rejects(deleteRepo({ repo: MIRRORED, ...as }), statusOf(403, /mirrored/), "deleteRepo");
				const refs = await refsOf(MIRRORED, server.url, tokens.alice);
				assert.deepEqual(refs, { branches: { main: upstreamMain, mine: out.commit.oid }, tags: { "v-local": upstreamMain } }, "main is the upstream's");

				// Another pass of the rule keeps main the upstream's and leaves alice's refs alone.
				const started = await call("POST", `${server.url}/api/admin/jobs`, { token: tokens.root, body: JSON.stringify({ kind: "sync", rule: 1 }) });
				assert.equal(started.status, 202, describeAnswer(started));
				const again = await finished("the pass root started", (jobs) => jobs.find((j) => j.id === started.json().id));
				assert.equal(again.state, "succeeded", again.error);
				assert.deepEqual(await refsOf(MIRRORED, server.url, tokens.alice), refs, "the refs after another pass");
			});
		} finally {
			await server.stop();
			await upstream.stop();
		}
	});
});
