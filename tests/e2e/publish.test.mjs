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
//  - LFS uploads: uploadFiles of a folder whose weights and tokenizer go through the batch API and
//    its upload URLs, read back byte for byte; the batch API spoken directly (the basic transfer,
//    URLs on this server, no upload asked for content the caller may read, 401 and 403); uploads
//    checked against their URL (wrong bytes, a wrong length, a forged URL refused, and nothing
//    of theirs committable), then the right bytes uploaded, verified and committed; a 64 MiB
//    body sent to a forged URL, or with a wrong or no Content-Length, gets its 403 or 400;
//  - branches and tags made and removed, seen at once in /refs;
//  - the refusals: anonymous, read token, another user (who cannot claim what alice stored or
//    uploaded for a private repo), another organization, a mirrored repo;
//  - xet-write-token and validate-yaml; deleteRepo;
//  - quotas, on a second instance served with `--config`: alice's LFS uploads and inline files
//    are refused over her namespace's quota with nothing stored, others' namespaces are not
//    limited by it, and a reload by an admin raises it at once.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test publish.test.mjs
//
// Everything happens on 127.0.0.1 in a fresh temporary directory that is removed afterwards.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { pathToFileURL } from "node:url";

import {
	createBranch,
	createRepo,
	deleteBranch,
	deleteFile,
	deleteRepo,
	downloadFile,
	listCommits,
	listFiles,
	modelInfo,
	snapshotDownload,
	uploadFiles,
	whoAmI,
} from "@huggingface/hub";

import { BIN, createMirrorToken, filesUnder, gitBlobSha1, importRepo, lfsPointer, pseudoRandomBytes, runHubmirror, serveHubmirror, sha256Hex, useWorkRoot, writeSource } from "../support/harness.mjs";
import { recordingFetch, withTrace } from "./fixture.mjs";
import { blobsOf, describeAnswer, publishHelpers, statusOf, syncMirrored } from "./publish_support.mjs";

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

const LFS_REPO = "alice/lfs-model";
const MiB = 1024 * 1024;
/**
 * What alice uploads to LFS_REPO from a folder: weights larger than the server's 1 MiB receive
 * chunks and 4 MiB write-behind threshold (an odd size, so no piece is whole), a tokenizer that
 * goes to LFS by the default `*.bin` pattern although small, and a regular config.
 */
const LFS_FILES = {
	"weights/model.safetensors": pseudoRandomBytes("publish/lfs-weights", 5 * MiB + 7),
	"tokenizer.bin": pseudoRandomBytes("publish/tokenizer", 4 * 1024 + 1),
	"config.json": Buffer.from('{"model_type": "bert", "vocab_size": 1000}\n'),
};
const LFS_PATHS = ["tokenizer.bin", "weights/model.safetensors"];

/** The data dir, its server and URL, the people's tokens, and what the tests learn on the way. */
const world = { data: "", server: undefined, url: "", tokens: {}, initial: "", published: "" };

const { addPeople, asAlice, call, cli, commitLines, headOf, lfsBatch, putBytes, writeToken } = publishHelpers(world);

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
		await syncMirrored(t, world.data, MIRRORED, root.dir("upstream"), root.dir("upstream-src"));
		world.tokens.aliceRead = await createMirrorToken(BIN, world.data, "alice");
		await addPeople();
		world.server = await serveHubmirror(BIN, world.data, { keepStderr: 8000 });
		world.url = world.server.url;
	},
	async teardown() {
		await world.server?.stop();
	},
});

/**
 * A PUT that writes all of `body` (Buffers, in order) before it looks at the answer, as
 * huggingface_hub (requests) does: { status, text } once the server closes. A server that closes
 * with the body unread resets the connection under the writes: this then rejects with their error
 * (EPIPE, ECONNRESET). fetch reads the answer while it sends, so it cannot show the difference.
 */
async function putBeforeReading(href, headers, body) {
	const url = new URL(href);
	const socket = connect(Number(url.port), url.hostname);
	await once(socket, "connect");
	const received = [];
	socket.on("data", (c) => received.push(c));
	const ended = new Promise((resolve, reject) => socket.once("end", resolve).once("error", reject));
	ended.catch(() => {}); // awaited below, once the writes are done
	try {
		const head = [`PUT ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "", ""];
		for (const part of [Buffer.from(head.join("\r\n")), ...body]) {
			await new Promise((resolve, reject) => socket.write(part, (err) => (err ? reject(err) : resolve())));
		}
		await ended;
	} finally {
		socket.destroy();
	}
	const answer = Buffer.concat(received).toString();
	return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1]), text: answer.slice(answer.indexOf("\r\n\r\n") + 4) };
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

	test("uploadFiles of a folder sends its LFS files through the batch API; they read back byte for byte", { timeout: 30_000 }, async (t) => {
		await withTrace(t, async () => {
			await createRepo({ repo: LFS_REPO, ...asAlice() });
			const src = work.dir("lfs-src");
			await writeSource(src, Object.entries(LFS_FILES));
			// The LFS content must reach the server as PUTs to the upload URLs the batch API gave.
			const puts = [];
			const fetchNotingPuts = (input, init) => {
				if (init?.method === "PUT") puts.push(new URL(input));
				return recordingFetch(input, init);
			};
			const files = ["weights", "tokenizer.bin", "config.json"].map((name) => pathToFileURL(join(src, name)));
			const out = await uploadFiles({ repo: LFS_REPO, files, commitTitle: "Add LFS weights", ...asAlice(), fetch: fetchNotingPuts });
			assert.match(out?.commit.oid ?? "", HEX40);
			assert.equal(await headOf(LFS_REPO), out.commit.oid, "main moved to the new commit");
			const sha = Object.fromEntries(LFS_PATHS.map((path) => [path, sha256Hex(LFS_FILES[path])]));
			assert.deepEqual(puts.map((url) => `${url.origin}${url.pathname}`).sort(), LFS_PATHS.map((path) => `${world.url}/api/lfs-upload/${sha[path]}`).sort());

			const listed = {};
			for await (const entry of listFiles({ repo: LFS_REPO, recursive: true, ...asAlice() })) if (entry.type === "file") listed[entry.path] = entry;
			assert.deepEqual(Object.keys(listed).sort(), [".gitattributes", ...Object.keys(LFS_FILES)].sort());
			for (const path of LFS_PATHS) {
				const size = LFS_FILES[path].length;
				assert.deepEqual([listed[path].lfs?.oid, listed[path].lfs?.size, listed[path].size], [sha[path], size, size], `${path}: listFiles ${JSON.stringify(listed[path])}`);
				assert.equal(listed[path].oid, gitBlobSha1(Buffer.from(lfsPointer(sha[path], size))), `${path}: the git id is the pointer's`);
			}
			assert.equal(listed["config.json"].lfs, undefined, "config.json is a regular file");
			assert.equal(listed["config.json"].oid, gitBlobSha1(LFS_FILES["config.json"]));
			for (const [path, content] of Object.entries(LFS_FILES)) {
				const bytes = Buffer.from(await (await downloadFile({ repo: LFS_REPO, path, ...asAlice() })).arrayBuffer());
				assert.equal(sha256Hex(bytes), sha256Hex(content), `${path}: sha256`);
			}

			const tree = await call("GET", `/api/models/${LFS_REPO}/tree/main?recursive=true`, { token: world.tokens.alice });
			assert.equal(tree.status, 200, describeAnswer(tree));
			const lfsOf = Object.fromEntries(tree.json().filter((e) => e.type === "file").map((e) => [e.path, e.lfs]));
			for (const path of LFS_PATHS) assert.deepEqual([lfsOf[path]?.oid, lfsOf[path]?.size], [sha[path], LFS_FILES[path].length], `${path}: tree ${tree.text}`);
			assert.equal(lfsOf["config.json"], undefined);
		});
	});

	test("the LFS batch API: basic upload URLs on this server, none for readable content; 401 and 403", { timeout: 10_000 }, async (t) => {
		await withTrace(t, async () => {
			const fresh = pseudoRandomBytes("publish/fresh", 10 * 1024 + 3);
			const objects = [fresh, BASE_WEIGHTS, LFS_FILES["weights/model.safetensors"]].map((bytes) => ({ oid: sha256Hex(bytes), size: bytes.length }));
			const res = await lfsBatch(LFS_REPO, world.tokens.alice, objects);
			assert.equal(res.status, 200, describeAnswer(res));
			assert.match(res.headers.get("content-type") ?? "", /^application\/vnd\.git-lfs\+json/);
			const answer = res.json();
			assert.equal(answer.transfer, "basic");
			assert.deepEqual(answer.objects.map((o) => ({ oid: o.oid, size: o.size })), objects);
			const [upload, base, own] = answer.objects;
			assert.ok(upload.actions?.upload?.href, `an upload action for new content: ${res.text}`);
			const href = new URL(upload.actions.upload.href);
			assert.equal(`${href.origin}${href.pathname}`, `${world.url}/api/lfs-upload/${objects[0].oid}`);
			assert.equal(upload.actions.verify?.href, `${world.url}/api/lfs-verify`);
			// The base model is public, and alice committed her weights: nothing to send for either.
			assert.equal(base.actions, undefined, `the base model's weights: ${JSON.stringify(base)}`);
			assert.equal(own.actions, undefined, `alice's own weights: ${JSON.stringify(own)}`);

			const anonymous = await lfsBatch(LFS_REPO, undefined, objects);
			assert.equal(anonymous.status, 401, describeAnswer(anonymous));
			// git-lfs asks for credentials only when this header comes with the 401.
			assert.match(anonymous.headers.get("lfs-authenticate") ?? "", /^Basic /);
			const reader = await lfsBatch(LFS_REPO, world.tokens.aliceRead, objects);
			assert.equal(reader.status, 403, describeAnswer(reader));
			const bob = await lfsBatch(LFS_REPO, world.tokens.bob, objects);
			assert.equal(bob.status, 403, describeAnswer(bob));
		});
	});

	test("uploads are checked against their URL: wrong bytes are refused and not committable, the right ones are", { timeout: 20_000 }, async (t) => {
		await withTrace(t, async () => {
			const alice = world.tokens.alice;
			const good = pseudoRandomBytes("publish/checked", 64 * 1024 + 5);
			const bad = Buffer.from(good);
			bad[1000] ^= 0xff; // the same length: only the digest can tell
			const object = { oid: sha256Hex(good), size: good.length };
			const batch = await lfsBatch(LFS_REPO, alice, [object]);
			assert.equal(batch.status, 200, describeAnswer(batch));
			const { upload, verify } = batch.json().objects[0].actions ?? {};
			assert.ok(upload?.href && verify?.href, `upload and verify actions: ${batch.text}`);

			const wrong = await putBytes(upload.href, bad);
			assert.equal(wrong.status, 400, describeAnswer(wrong));
			assert.match(wrong.json().error, new RegExp(`sha256 mismatch: expected ${object.oid}`));
			const short = await putBytes(upload.href, good.subarray(0, -1));
			assert.equal(short.status, 400, describeAnswer(short));
			assert.match(short.json().error, new RegExp(`must send exactly ${good.length} bytes`));
			// The URL is signed over the object, its size, its uploader and its expiry.
			for (const [name, value] of [["sig", (sig) => (sig[0] === "0" ? "1" : "0") + sig.slice(1)], ["user", () => "bob"]]) {
				const forged = new URL(upload.href);
				forged.searchParams.set(name, value(forged.searchParams.get(name)));
				const res = await putBytes(forged.href, good);
				assert.equal(res.status, 403, `${name} changed: ${describeAnswer(res)}`);
			}

			// None of these stored anything alice could verify or commit.
			const verifyBody = JSON.stringify(object);
			const unverified = await call("POST", verify.href, { token: alice, body: verifyBody });
			assert.equal(unverified.status, 404, describeAnswer(unverified));
			const head = await headOf(LFS_REPO);
			const line = { key: "lfsFile", value: { path: "checked.safetensors", algo: "sha256", ...object } };
			const refused = await commitLines(LFS_REPO, alice, { summary: "Add checked weights" }, [line]);
			assert.equal(refused.status, 422, describeAnswer(refused));
			assert.equal(await headOf(LFS_REPO), head, "the refused commit changed nothing");
			assert.ok(!("checked.safetensors" in (await filesOf(LFS_REPO))), "the refused file is not listed");

			const stored = await putBytes(upload.href, good);
			assert.equal(stored.status, 200, describeAnswer(stored));
			const verified = await call("POST", verify.href, { token: alice, body: verifyBody });
			assert.equal(verified.status, 200, describeAnswer(verified));
			const committed = await commitLines(LFS_REPO, alice, { summary: "Add checked weights" }, [line]);
			assert.equal(committed.status, 200, describeAnswer(committed));
			assert.equal(await headOf(LFS_REPO), committed.json().commitOid);
			const blob = await downloadFile({ repo: LFS_REPO, path: "checked.safetensors", ...asAlice() });
			assert.ok(Buffer.from(await blob.arrayBuffer()).equals(good), "checked.safetensors downloads with the uploaded bytes");
		});
	});

	test("an upload refused on its headers is answered, not reset, while its 64 MiB body is sent", { timeout: 60_000 }, async (t) => {
		await withTrace(t, async () => {
			const small = pseudoRandomBytes("publish/refused-put", 1000);
			const batch = await lfsBatch(LFS_REPO, world.tokens.alice, [{ oid: sha256Hex(small), size: small.length }]);
			assert.equal(batch.status, 200, describeAnswer(batch));
			const href = batch.json().objects[0].actions?.upload?.href;
			assert.ok(href, `an upload action: ${batch.text}`);
			const forged = new URL(href);
			const sig = forged.searchParams.get("sig");
			forged.searchParams.set("sig", (sig[0] === "0" ? "1" : "0") + sig.slice(1));
			const piece = Buffer.alloc(MiB, 0x5a);
			const whole = Array(64).fill(piece);
			const sized = { "content-type": "application/octet-stream", "content-length": String(64 * MiB) };
			// The same 64 MiB sent chunked, with no Content-Length.
			const chunks = [...whole.flatMap((p) => [Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from("\r\n")]), Buffer.from("0\r\n\r\n")];
			const sizeRule = new RegExp(`must send exactly ${small.length} bytes with a Content-Length`);
			for (const [what, url, headers, body, status, error] of [
				["a forged URL", forged.href, sized, whole, 403, /this upload URL is not valid/],
				["a wrong Content-Length", href, sized, whole, 400, sizeRule],
				["no Content-Length", href, { "content-type": "application/octet-stream", "transfer-encoding": "chunked" }, chunks, 400, sizeRule],
			]) {
				const res = await putBeforeReading(url, headers, body).catch((err) => assert.fail(`${what}: the connection failed (${err.code ?? err.message}) instead of an answer`));
				assert.equal(res.status, status, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
				assert.match(JSON.parse(res.text).error, error, what);
			}
			assert.ok(world.server.alive(), "the server still runs");
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

			// Content stored for alice's private repo, inline or uploaded to LFS by her, is not bob's
			// to claim by its digest, and the batch API does not tell him it is stored.
			const secret = Buffer.from("alice's private notes\n");
			const secretWeights = pseudoRandomBytes("publish/private-weights", 8 * 1024 + 1);
			await createRepo({ repo: "alice/private-notes", private: true, ...asAlice() });
			await uploadFiles({ repo: "alice/private-notes", files: blobsOf({ "notes.txt": secret, "adapter.safetensors": secretWeights }), ...asAlice() });
			await createRepo({ repo: "bob/scratch", ...bob });
			for (const content of [secret, secretWeights]) {
				const claim = { key: "lfsFile", value: { path: "stolen.bin", algo: "sha256", oid: sha256Hex(content), size: content.length } };
				const claimed = await commitLines("bob/scratch", world.tokens.bob, {}, [claim]);
				assert.equal(claimed.status, 422, `a claim of ${content.length} bytes: ${describeAnswer(claimed)}`);
			}
			const weightsObject = { oid: sha256Hex(secretWeights), size: secretWeights.length };
			const asked = await lfsBatch("bob/scratch", world.tokens.bob, [weightsObject]);
			assert.equal(asked.status, 200, describeAnswer(asked));
			const bobUpload = asked.json().objects[0].actions?.upload;
			assert.ok(bobUpload?.href, `bob is asked to upload alice's private weights: ${asked.text}`);
			assert.deepEqual(await titlesOf("bob/scratch"), ["initial commit"]);
			// Bob may commit the same bytes once he has sent them himself: he shows he has them.
			assert.equal((await putBytes(bobUpload.href, secretWeights)).status, 200);
			const own = { key: "lfsFile", value: { path: "adapter.safetensors", algo: "sha256", ...weightsObject } };
			const owned = await commitLines("bob/scratch", world.tokens.bob, {}, [own]);
			assert.equal(owned.status, 200, describeAnswer(owned));

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
	test("quotas: over alice's, her uploads and inline files are refused with nothing stored; others' are not; a reload raises it", { timeout: 90_000 }, async (t) => {
		// An instance of its own: a quota counts all that alice's repos hold, which the tests above change.
		const data = work.dir("quota-data");
		const configFile = work.dir("quota.toml");
		// Every request needs a token here, but for the upload URLs, which carry their own authorisation.
		const setQuota = (aliceBytes) =>
			writeFile(configFile, `[access]\nanonymous = "none"\n\n[publish]\nquota_bytes = ${64 * MiB}\n\n[publish.quotas]\nalice = ${aliceBytes}\n`);
		await setQuota(MiB);
		// serve makes the registry; the people are added to it while it runs.
		const server = await serveHubmirror(BIN, data, { args: ["--config", configFile], keepStderr: 8000 });
		try {
			for (const user of ["alice", "carol"]) await cli(["user", "add", user], data);
			await cli(["user", "add", "root", "--admin"], data);
			const tokens = { alice: await writeToken("alice", data), carol: await writeToken("carol", data), root: await writeToken("root", data) };
			assert.equal((await call("GET", `${server.url}/api/models`)).status, 401, "anonymous requests are refused here");
			await withTrace(t, async () => {
				const as = (who) => ({ hubUrl: server.url, accessToken: tokens[who], fetch: recordingFetch });
				const repo = "alice/quota-model";
				const headNow = async (name = repo) => (await modelInfo({ name, additionalFields: ["sha"], ...as("alice") })).sha;
				const blobCount = async () => (await filesUnder(join(data, "blobs"))).length;
				const refusal = (used, needs) => new RegExp(`^Storage quota of alice exceeded: its repos use ${used} of ${MiB} bytes, and this upload needs ${needs} more`);
				const big = pseudoRandomBytes("publish/quota-big", 2 * MiB);
				const small = pseudoRandomBytes("publish/quota-small", 200 * 1024);

				await createRepo({ repo, ...as("alice") });
				const initial = await headNow();
				// All alice's repos hold so far is the initial commit's .gitattributes.
				const attributes = await downloadFile({ repo, path: ".gitattributes", ...as("alice") });
				const stored = await blobCount();
				const upload = (files, who = "alice", name = repo) => uploadFiles({ repo: name, files: blobsOf(files), ...as(who) });
				await assert.rejects(upload({ "big.safetensors": big }), statusOf(403, refusal(attributes.size, big.length)), "2 MiB over alice's 1 MiB");
				assert.equal(await headNow(), initial, "the refused upload committed nothing");
				assert.equal(await blobCount(), stored, "the refused upload stored nothing");

				const fits = await upload({ "small.safetensors": small });
				assert.equal(await headNow(), fits.commit.oid, "200 KiB fit in the quota");
				assert.equal(await blobCount(), stored + 1, "the small weights were stored");

				// Regular files go inline in the commit, which checks them against what is left.
				const used = attributes.size + small.length;
				const inlineFile = (path, size) => ({ key: "file", value: { path, content: Buffer.alloc(size, path).toString("base64"), encoding: "base64" } });
				const inline = [inlineFile("notes/a.txt", 600 * 1024), inlineFile("notes/b.txt", 300 * 1024)];
				const refused = await commitLines(repo, tokens.alice, { summary: "Add notes" }, inline, server.url);
				assert.equal(refused.status, 403, describeAnswer(refused));
				assert.match(refused.json().error, refusal(used, 900 * 1024));
				assert.equal(await headNow(), fits.commit.oid, "the refused commit changed nothing");
				assert.equal(await blobCount(), stored + 1, "the refused commit stored nothing");

				// Two batches that each fit, uploaded, then one commit naming both: the commit counts
				// the content it adds, and refuses what the batches could not see together.
				const halves = ["half-a", "half-b"].map((name) => pseudoRandomBytes(`publish/quota-${name}`, 500 * 1024));
				const lines = [];
				for (const [i, half] of halves.entries()) {
					const oid = sha256Hex(half);
					const batch = await lfsBatch(repo, tokens.alice, [{ oid, size: half.length }], server.url);
					assert.equal(batch.status, 200, describeAnswer(batch));
					const put = await putBytes(batch.json().objects[0].actions.upload.href, half);
					assert.equal(put.status, 200, describeAnswer(put));
					lines.push({ key: "lfsFile", value: { path: `halves/${i}.safetensors`, algo: "sha256", oid, size: half.length } });
				}
				const together = await commitLines(repo, tokens.alice, { summary: "Both halves" }, lines, server.url);
				assert.equal(together.status, 403, describeAnswer(together));
				assert.match(together.json().error, refusal(used, 1000 * 1024));
				assert.equal(await headNow(), fits.commit.oid, "the commit over the quota changed nothing");

				// carol's namespace has the default quota: alice's does not limit her.
				await createRepo({ repo: "carol/weights", ...as("carol") });
				const carols = pseudoRandomBytes("publish/quota-carol", 2 * MiB);
				const theirs = await upload({ "big.safetensors": carols }, "carol", "carol/weights");
				assert.equal(await headNow("carol/weights"), theirs.commit.oid);

				// Still refused, until an admin reloads the config with a larger quota.
				await assert.rejects(upload({ "big.safetensors": big }), statusOf(403, refusal(used, big.length)), "2 MiB before the reload");
				await setQuota(8 * MiB);
				const reload = await call("POST", `${server.url}/api/admin/config/reload`, { token: tokens.root });
				assert.equal(reload.status, 200, describeAnswer(reload));
				assert.deepEqual(reload.json(), { reloaded: true, applied: ["publish"], restart_needed: [] });
				const raised = await upload({ "big.safetensors": big });
				assert.equal(await headNow(), raised.commit.oid, "the 2 MiB upload went in after the reload");
				const bytes = Buffer.from(await (await downloadFile({ repo, path: "big.safetensors", ...as("alice") })).arrayBuffer());
				assert.ok(bytes.equals(big), "big.safetensors downloads with the uploaded bytes");
			});
		} finally {
			await server.stop();
		}
	});
});
