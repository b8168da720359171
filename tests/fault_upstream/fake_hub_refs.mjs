// The git side of a fake Hub repo (see fake_hub.mjs): commits made of file lists, the refs that
// point at them (branches, tags, pull requests, converts), the `/refs` body, and revisions resolved
// as the Hub resolves them (hub-protocol.md §1.2, §3.4). Plain Node 20.

import { createHash } from "node:crypto";

import { gitBlobSha1, lfsPointer, sha256Hex } from "../support/harness.mjs";

/** The ref kinds, as `/refs` and a RepoSpec's `refs` name them, with the prefix of their full names. */
const KINDS = { branches: "refs/heads/", tags: "refs/tags/", pullRequests: "refs/pr/", converts: "refs/convert/" };
const MAIN = "main";

/** A Xet-style content hash: 64 hex, deliberately NOT the sha256 of the bytes. */
function fakeXetHash(buf) {
	return createHash("sha256").update("fake-xet-merkle\0").update(buf).digest("hex");
}

/**
 * A commit of repo `repoId` holding `fileSpecs` ({ path, content, lfs? }): its sha, derived from
 * the repo id and the files (the same files make the same commit), its files by path, with their
 * digests, and its recursive tree in the Hub's shape.
 */
export function buildCommit(repoId, fileSpecs) {
	if (!Array.isArray(fileSpecs)) throw new Error(`${repoId}: a commit needs a list of files`);
	const files = new Map();
	const commitHash = createHash("sha1").update(`fake commit\0${repoId}\0`);
	for (const f of [...fileSpecs].sort((a, b) => (a.path < b.path ? -1 : 1))) {
		const content = Buffer.from(f.content);
		const sha256 = sha256Hex(content);
		const lfs = Boolean(f.lfs);
		const pointer = lfs ? lfsPointer(sha256, content.length) : undefined;
		const file = {
			path: f.path,
			content,
			size: content.length,
			lfs,
			sha256,
			gitSha1: gitBlobSha1(content),
			oid: lfs ? gitBlobSha1(Buffer.from(pointer)) : gitBlobSha1(content),
			pointerSize: lfs ? Buffer.byteLength(pointer) : undefined,
			xetHash: lfs ? fakeXetHash(content) : undefined,
		};
		files.set(f.path, file);
		commitHash.update(`${file.path}\0${file.oid}\0`);
	}
	const directories = new Set();
	for (const path of files.keys()) {
		const parts = path.split("/");
		for (let i = 1; i < parts.length; i++) {
			directories.add(parts.slice(0, i).join("/"));
		}
	}
	const tree = [];
	for (const dir of directories) {
		tree.push({
			type: "directory",
			oid: createHash("sha1").update(`tree\0${repoId}\0${dir}`).digest("hex"),
			size: 0,
			path: dir,
		});
	}
	for (const file of files.values()) {
		const entry = { type: "file", oid: file.oid, size: file.size, path: file.path };
		if (file.lfs) {
			entry.lfs = { oid: file.sha256, size: file.size, pointerSize: file.pointerSize };
			entry.xetHash = file.xetHash;
		}
		tree.push(entry);
	}
	tree.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
	return { sha: commitHash.digest("hex"), files, tree };
}

/** { kind, name } of a full ref name (refs/heads/B, refs/tags/T, refs/pr/N, refs/convert/C); any other name is a branch. */
function parseRefName(ref) {
	for (const [kind, prefix] of Object.entries(KINDS)) {
		if (ref.startsWith(prefix)) return { kind, name: ref.slice(prefix.length) };
	}
	return { kind: "branches", name: ref };
}

/**
 * The commits and refs of one repo. `main` always exists; every commit ever made stays reachable
 * by its id, as a moved branch's old commits stay in git history. Not shared between hubs.
 */
export class RepoGit {
	#repoId;
	/** sha -> { sha, files, tree } */
	#commits = new Map();
	/** kind -> (name -> sha), each in the order the refs were added */
	#refs = Object.fromEntries(Object.keys(KINDS).map((kind) => [kind, new Map()]));

	/**
	 * `mainFiles`: main's files. `refSpecs`: { branches?, tags?, pullRequests?, converts? }, each
	 * name -> { files } (a commit of its own) or a revision of this repo (a ref's name, full or
	 * short, or a commit id) whose commit it shares; a declared ref may name one declared after it.
	 */
	constructor(repoId, mainFiles, refSpecs = {}) {
		this.#repoId = repoId;
		this.#refs.branches.set(MAIN, this.#commit(mainFiles).sha);
		const pending = [];
		for (const [kind, entries] of Object.entries(refSpecs)) {
			if (!Object.hasOwn(KINDS, kind)) {
				throw new Error(`${repoId}: unknown ref kind "${kind}" (one of ${Object.keys(KINDS).join(", ")})`);
			}
			for (const [name, target] of Object.entries(entries)) {
				if (kind === "branches" && name === MAIN) throw new Error(`${repoId}: main's files are the RepoSpec's own files`);
				pending.push([KINDS[kind] + name, target]);
			}
		}
		while (pending.length > 0) {
			const ready = pending.findIndex(([, target]) => typeof target !== "string" || this.resolve(target));
			if (ready < 0) throw new Error(`${repoId}: ${pending[0][0]} points at ${pending[0][1]}, not a revision of this repo`);
			const [[ref, target]] = pending.splice(ready, 1);
			this.set(ref, target);
		}
	}

	/** The commit of the default branch. */
	get main() {
		return this.#commits.get(this.#refs.branches.get(MAIN));
	}

	/**
	 * The commit a revision names, or undefined: HEAD (main), a branch, a tag (a branch wins over
	 * a tag of the same name), a full ref name (refs/heads/B, refs/tags/T, refs/pr/N,
	 * refs/convert/C), or the 40-hex id of any commit of this repo.
	 */
	resolve(rev) {
		const { kind, name } = parseRefName(rev);
		const sha =
			(rev === "HEAD" ? this.#refs.branches.get(MAIN) : undefined) ??
			this.#refs.branches.get(rev) ??
			this.#refs.tags.get(rev) ??
			this.#refs[kind].get(name) ??
			(/^[0-9a-f]{40}$/.test(rev) && this.#commits.has(rev) ? rev : undefined);
		return sha === undefined ? undefined : this.#commits.get(sha);
	}

	/**
	 * Points `ref` (a full ref name, or a bare branch name) at `target`: { files } (the commit of
	 * those files) or a revision of this repo (its current commit). Adds the ref when it is new.
	 * Returns the commit.
	 */
	set(ref, target) {
		const { kind, name } = parseRefName(ref);
		if (name === "" || (kind === "pullRequests" && !/^\d+$/.test(name))) throw new Error(`${this.#repoId}: bad ref name ${ref}`);
		const commit = typeof target === "string" ? this.resolve(target) : this.#commit(target?.files);
		if (!commit) throw new Error(`${this.#repoId}: ${target} is not a revision of this repo`);
		this.#refs[kind].set(name, commit.sha);
		return commit;
	}

	/** Deletes `ref` (a full ref name, or a bare branch name); main cannot be deleted. */
	delete(ref) {
		const { kind, name } = parseRefName(ref);
		if (kind === "branches" && name === MAIN) throw new Error(`${this.#repoId}: main cannot be deleted`);
		if (!this.#refs[kind].delete(name)) throw new Error(`${this.#repoId} has no ref ${KINDS[kind]}${name}`);
	}

	/** Every commit ever made, main's first. */
	commits() {
		const main = this.main;
		return [main, ...[...this.#commits.values()].filter((c) => c !== main)];
	}

	/** The body of GET /api/{type}s/{id}/refs; pullRequests only when asked for. */
	list(includePrs) {
		const items = (kind) => [...this.#refs[kind]].map(([name, sha]) => ({ name, ref: KINDS[kind] + name, targetCommit: sha }));
		const body = { branches: items("branches"), converts: items("converts"), tags: items("tags") };
		if (includePrs) body.pullRequests = items("pullRequests");
		return body;
	}

	/** The commit of these files, made once. */
	#commit(fileSpecs) {
		const commit = buildCommit(this.#repoId, fileSpecs);
		if (!this.#commits.has(commit.sha)) this.#commits.set(commit.sha, commit);
		return this.#commits.get(commit.sha);
	}
}
