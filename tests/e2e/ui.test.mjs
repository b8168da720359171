// End-to-end test of the web UI in a real browser (Chromium driven by playwright-core): one
// `hubmirror serve` holding a lineage family imported with `hubmirror import` (acme/base, a
// finetune, an adapter, a GGUF quantization of the finetune, and a merge of the finetune with
// acme/other, a model known only from that card), a dataset, a card that tries to run script and
// load a remote image, a private repo, a gated repo and a repo filled by `hubmirror sync` from a
// second hubmirror; people made with the CLI (a user and an admin, each with a named token).
//  - the list and its links to every page, search as you type without a navigation;
//  - a repo page: card, files with sizes, sha256 and download links giving the right bytes, the
//    download snippets, and the lineage pages reached by clicking (drawn nodes, relations, the
//    text table against /api/lineage), a model known only from a card drawn as not mirrored;
//  - a hostile card: no script runs, no remote request, the Content-Security-Policy;
//  - a private repo (404 unless the caller may read it), a gated repo (sign in, ask for access,
//    pending until `hubmirror access grant`, then downloads), POSTs without the page's Origin;
//  - the status, integrity and admin pages; no token secret in any page; a 360 px wide
//    viewport and keyboard access to the lineage graph.
// Every page must load without console errors or uncaught exceptions, with the spec's headers;
// each page's screenshot goes to HUBMIRROR_UI_SCREENSHOTS (default: build/ui-screenshots in the
// source tree).
// The instance and the browser helpers are in ui_support.mjs.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test ui.test.mjs
// The browser is Chromium at /usr/bin/chromium, or CHROMIUM_PATH.
//
// Everything happens on 127.0.0.1 in a fresh temporary directory that is removed afterwards.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";

import {
	ADAPTER,
	assertCleanPages,
	BASE,
	checkFileRows,
	checkLineagePage,
	clickThrough,
	cli,
	DATASET,
	eventually,
	FAMILY,
	FINETUNE,
	GATED,
	hrefOf,
	INJECTION,
	linkTarget,
	listedRepos,
	MERGE,
	MODELS,
	navLink,
	navTargets,
	nodeLink,
	openPage,
	PRIVATE,
	QUANTIZED,
	RELATIONS,
	repoNamed,
	screenshot,
	signIn,
	submitByEnter,
	SYNCED,
	UNMIRRORED,
	useUiWorld,
	visit,
	withContext,
	world,
} from "./ui_support.mjs";

useUiWorld();

describe("the web UI in a browser", () => {
	test("the list: every repo but the private one, every page linked from it", { timeout: 60_000 }, async () => {
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			await visit(page, "/");
			const listed = await listedRepos(page);
			assert.deepEqual(listed.map((r) => r.id).sort(), [...MODELS].sort(), "the models listed");
			for (const { id, href } of listed) assert.equal(linkTarget(href, page.url()), `/-/models/${id}`, `${id}: its link`);
			assert.match(await page.locator("#results #repo-count").textContent(), new RegExp(`\\b${MODELS.length} repos\\b`), "#repo-count");
			assert.ok(!(await page.content()).includes(PRIVATE), `${PRIVATE} is named on the list`);
			for (const field of ['input#search[name="q"]', 'select[name="task"]', 'select[name="library"]', 'input[name="base_model"]', 'select[name="gated"]', 'select[name="source"]', 'select[name="sort"]']) {
				assert.equal(await page.locator(`form#repo-filter ${field}`).count(), 1, `#repo-filter has ${field}`);
			}
			await screenshot(page, "list.png");

			// The navigation, followed link by link from the list.
			const navPaths = await navTargets(page);
			for (const path of ["/", "/-/datasets", "/-/status", "/-/integrity", "/-/signin"]) assert.ok(navPaths.includes(path), `#site-nav links to ${path}: ${JSON.stringify(navPaths)}`);
			assert.ok(!navPaths.includes("/-/admin"), "no Admin link for an anonymous caller");
			for (const [path, landmark] of [
				["/-/datasets", "#repo-list"],
				["/-/status", "#status-table"],
				["/-/integrity", "#manifest-table"],
				["/-/signin", "#signin-form"],
				["/", "#repo-list"],
			]) {
				await clickThrough(page, await navLink(page, path), (u) => u.pathname === path);
				assert.equal(seen.documents.at(-1)?.status, 200, `${path}: status`);
				assert.equal(await page.locator(landmark).count(), 1, `${path}: ${landmark}`);
				if (path === "/-/signin") await screenshot(page, "signin.png");
			}

			// The datasets list, and a dataset's page reached from it.
			await clickThrough(page, await navLink(page, "/-/datasets"), (u) => u.pathname === "/-/datasets");
			const datasets = await listedRepos(page);
			assert.deepEqual(datasets.map((r) => r.id), [DATASET], "the datasets listed");
			assert.equal(linkTarget(datasets[0].href, page.url()), `/-/datasets/${DATASET}`);
			await clickThrough(page, page.locator("#repo-list a.repo-link").first(), (u) => u.pathname === `/-/datasets/${DATASET}`);
			assert.match(await page.locator("#repo-title").textContent(), new RegExp(DATASET), "#repo-title");
			assert.equal(await page.locator("#lineage-link").count(), 0, "no lineage link on a dataset's page");
			await checkFileRows(page, repoNamed(DATASET), repoNamed(DATASET).files);
			assertCleanPages(seen, "list, navigation, datasets");
		});
	});

	test("typing in the search box narrows the list without a navigation", { timeout: 60_000 }, async () => {
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			await visit(page, "/");
			const before = (await listedRepos(page)).length;
			assert.equal(before, MODELS.length);
			// Lost on any navigation: still there afterwards means the page was never reloaded.
			await page.evaluate(() => (window.__sameDocument = true));
			await page.locator("#search").pressSequentially("lora", { delay: 40 });
			const after = await eventually(
				() => listedRepos(page),
				(repos) => repos.length === 1,
			);
			assert.deepEqual(after.map((r) => r.id), [ADAPTER], "the list after typing");
			assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page was reloaded");
			const query = await eventually(
				() => new URL(page.url()).searchParams.get("q"),
				(q) => q === "lora",
			);
			assert.equal(query, "lora", "the URL's q after typing");
			assert.equal(seen.documents.length, 1, "a document was loaded while typing");
			assertCleanPages(seen, "search as you type");
		});
	});

	test("a repo page: card, files, downloads, snippets, and its lineage pages by clicking", { timeout: 90_000 }, async () => {
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			const repo = repoNamed(FINETUNE);
			await visit(page, "/");
			await clickThrough(page, page.locator("#repo-list a.repo-link", { hasText: new RegExp(`^\\s*${FINETUNE}\\s*$`) }), (u) => u.pathname === `/-/models/${FINETUNE}`);
			assert.ok(page.url().includes(FINETUNE));
			assert.match(await page.locator("#repo-title").textContent(), new RegExp(FINETUNE), "#repo-title");
			assert.match(await page.locator("#card .markdown").innerText(), /A finetune of the base model\./, "the card's text");
			assert.equal(await page.locator("#card .markdown h1", { hasText: "Base FT" }).count(), 1, "the card's heading, rendered");
			await checkFileRows(page, repo, repo.files.filter((f) => !f.path.includes("/")));
			assert.ok(await page.locator("#refs").count(), "#refs");
			assert.ok(await page.locator("#history").count(), "#history");
			for (const snippet of ["#snippet-python", "#snippet-curl"]) {
				const code = await page.locator(`#download ${snippet}`).textContent();
				assert.ok(code.includes(world.url), `${snippet} names the server: ${code}`);
				assert.ok(code.includes(FINETUNE), `${snippet} names the repo: ${code}`);
			}
			await screenshot(page, "repo.png");

			// The folder, opened from its row.
			const folder = page.locator("#file-table tr.folder", { hasText: "tokenizer" }).locator("a").first();
			await clickThrough(page, folder, (u) => u.pathname === `/-/models/${FINETUNE}` && u.searchParams.get("path") === "tokenizer");
			await checkFileRows(page, repo, repo.files.filter((f) => f.path.startsWith("tokenizer/")));
			await page.goBack();

			// The finetune's lineage: its base above, the quantization and the merge below.
			await clickThrough(page, page.locator("#lineage-link"), (u) => u.pathname === `/-/lineage/${FINETUNE}`);
			const near = await checkLineagePage(page, FINETUNE);
			for (const id of [BASE, FINETUNE, QUANTIZED, MERGE]) assert.ok(near.texts.includes(id), `${FINETUNE}'s lineage draws ${id}`);
			for (const relation of ["finetune", "quantized", "merge"]) assert.ok(near.texts.includes(relation), `${FINETUNE}'s lineage draws ${relation}`);

			// The whole family from the foundation: its node links to its repo page, whose lineage link draws all of it.
			const baseNode = await nodeLink(page, BASE);
			assert.ok(baseNode, `no SVG a for ${BASE}`);
			assert.equal(linkTarget(await hrefOf(baseNode), page.url()), `/-/models/${BASE}`, `${BASE}'s node link`);
			await clickThrough(page, baseNode, (u) => u.pathname === `/-/models/${BASE}`);
			await clickThrough(page, page.locator("#lineage-link"), (u) => u.pathname === `/-/lineage/${BASE}`);
			const family = await checkLineagePage(page, BASE);
			for (const id of FAMILY) assert.ok(family.texts.includes(id), `${BASE}'s lineage draws ${id}: ${JSON.stringify(family.texts)}`);
			for (const relation of RELATIONS) assert.ok(family.texts.includes(relation), `${BASE}'s lineage draws ${relation}: ${JSON.stringify(family.texts)}`);
			await screenshot(page, "lineage.png");

			// The merge's parents: acme/other, known only from its card, is drawn as not mirrored.
			await clickThrough(page, await nodeLink(page, MERGE), (u) => u.pathname === `/-/models/${MERGE}`);
			await clickThrough(page, page.locator("#lineage-link"), (u) => u.pathname === `/-/lineage/${MERGE}`);
			const merge = await checkLineagePage(page, MERGE);
			assert.ok(merge.texts.includes(UNMIRRORED), `${MERGE}'s lineage draws ${UNMIRRORED}`);
			const otherRow = merge.rows.find((cells) => cells.some((c) => c.startsWith(UNMIRRORED)));
			assert.ok(
				merge.texts.some((t) => /not mirrored/i.test(t)) || otherRow?.some((c) => /not mirrored/i.test(c)),
				`${UNMIRRORED} is not marked "not mirrored": SVG ${JSON.stringify(merge.texts)}, row ${JSON.stringify(otherRow)}`,
			);
			const otherNode = await nodeLink(page, UNMIRRORED);
			assert.ok(otherNode, `no SVG a for ${UNMIRRORED}`);
			assert.equal(linkTarget(await hrefOf(otherNode), page.url()), `/-/lineage/${UNMIRRORED}`, `${UNMIRRORED}'s node links to its lineage`);
			await clickThrough(page, otherNode, (u) => u.pathname === `/-/lineage/${UNMIRRORED}`);
			await checkLineagePage(page, UNMIRRORED);
			assertCleanPages(seen, "repo and lineage pages");
		});
	});

	test("a hostile card runs no script and loads nothing from elsewhere", { timeout: 60_000 }, async () => {
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			const res = await visit(page, `/-/models/${INJECTION}`);
			await page.waitForLoadState("load");
			// Time for an inline handler or a late image error to fire, if any had been let through.
			await sleep(500);
			assert.equal(await page.evaluate(() => typeof window.__pwned), "undefined", "window.__pwned was set");
			assert.match(await page.locator("#card").innerText(), /Plain text survives\./, "the card is rendered");
			assert.equal(await page.locator("#card script").count(), 0, "a script element in #card");
			const handlers = await page.$$eval("#card *", (els) => els.flatMap((el) => [...el.attributes].filter((a) => a.name.toLowerCase().startsWith("on")).map((a) => `${el.tagName} ${a.name}`)));
			assert.deepEqual(handlers, [], "event handler attributes in #card");
			const hrefs = await page.$$eval("a", (as) => as.map((a) => a.getAttribute("href") ?? ""));
			assert.deepEqual(hrefs.filter((h) => /^\s*javascript:/i.test(h)), [], "javascript: links");
			assert.equal(await page.locator('#card img[src*="example.invalid"]').count(), 0, "the remote image is shown as an image");
			const remote = page.locator('#card a[href="http://example.invalid/a.png"]');
			assert.equal(await remote.count(), 1, "the remote image is shown as a link");
			const rel = ((await remote.getAttribute("rel")) ?? "").split(/\s+/);
			for (const word of ["noopener", "noreferrer", "nofollow"]) assert.ok(rel.includes(word), `the remote link's rel lacks ${word}`);
			assert.deepEqual(seen.requests.filter((u) => u.includes("example.invalid")), [], "requests to example.invalid");
			assert.ok(res.headers()["content-security-policy"], "the page has a Content-Security-Policy");
			await screenshot(page, "card-injection.png");
			assertCleanPages(seen, "the hostile card");
		});
	});

	test("a private repo is not found, except for those who may read it", { timeout: 60_000 }, async () => {
		for (const who of [undefined, "reader"]) {
			await withContext(async (context) => {
				const { page, seen } = await openPage(context);
				if (who) await signIn(page, world.tokens[who]);
				await visit(page, `/-/models/${PRIVATE}`, 404);
				assert.ok(!(await page.locator("#file-table").count()), `${who ?? "anonymous"}: a file table on the 404 page`);
				// As a repo that does not exist at all.
				await visit(page, "/-/models/secret/missing", 404);
				if (who) {
					await visit(page, "/");
					assert.ok(!(await listedRepos(page)).some((r) => r.id === PRIVATE), `${who}: ${PRIVATE} listed`);
				}
				assertCleanPages(seen, `${who ?? "anonymous"} on the private repo`, { statuses: [404] });
			});
		}
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			await signIn(page, world.tokens.root);
			await visit(page, "/");
			assert.ok((await listedRepos(page)).some((r) => r.id === PRIVATE), `${PRIVATE} is listed for the admin`);
			await clickThrough(page, page.locator("#repo-list a.repo-link", { hasText: PRIVATE }), (u) => u.pathname === `/-/models/${PRIVATE}`);
			assert.match(await page.locator("#repo-title").textContent(), new RegExp(PRIVATE));
			await checkFileRows(page, repoNamed(PRIVATE), repoNamed(PRIVATE).files);
			assertCleanPages(seen, "the admin on the private repo");
		});
	});

	test("a gated repo: sign in, ask for access, pending until granted, then downloads", { timeout: 90_000 }, async () => {
		const repo = repoNamed(GATED);
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			await visit(page, `/-/models/${GATED}`);
			await checkFileRows(page, repo, repo.files, { downloadable: false });
			const toSignIn = page.locator("#access a#signin-to-request");
			assert.equal(await toSignIn.count(), 1, "#signin-to-request");
			const target = new URL(await toSignIn.getAttribute("href"), page.url());
			assert.equal(target.pathname, "/-/signin");
			assert.equal(target.searchParams.get("next"), `/-/models/${GATED}`, "the sign-in link's next");

			// A wrong token: 401 with an error, the token not echoed.
			await clickThrough(page, toSignIn, (u) => u.pathname === "/-/signin");
			const wrong = `hf_${randomBytes(17).toString("hex")}`;
			await page.fill("#signin-form #token", wrong);
			await submitByEnter(page, "#signin-form #token", (u) => u.pathname === "/-/signin");
			assert.equal(seen.documents.at(-1)?.status, 401, "a wrong token's sign-in");
			assert.equal(await page.locator("p.error").count(), 1, "the wrong token's error");
			assert.ok(!(await page.content()).includes(wrong), "the wrong token is echoed");
			assert.equal((await context.cookies()).filter((c) => c.name === "hubmirror_token").length, 0, "a cookie for a wrong token");

			// The reader's token, through the form the repo page linked to: back on the repo page.
			await visit(page, target.pathname + target.search);
			assert.equal(await page.locator('#signin-form input[type="hidden"][name="next"]').inputValue(), `/-/models/${GATED}`, "the form's next");
			await page.fill("#signin-form #token", world.tokens.reader);
			await submitByEnter(page, "#signin-form #token", (u) => u.pathname === `/-/models/${GATED}`);
			const cookie = (await context.cookies()).find((c) => c.name === "hubmirror_token");
			assert.ok(cookie, "no hubmirror_token cookie after signing in");
			assert.equal(cookie.httpOnly, true, "the cookie is HttpOnly");
			assert.equal(cookie.sameSite, "Strict", "the cookie is SameSite=Strict");
			assert.ok(!(await page.evaluate(() => document.cookie)).includes("hubmirror_token"), "the cookie is readable by script");
			assert.match(await page.locator("#site-nav").innerText(), /\breader\b/, "the user's name in #site-nav");
			assert.equal(await page.locator('#site-nav form#signout-form[method="post"][action="/-/signout"]').count(), 1, "#signout-form");
			await checkFileRows(page, repo, repo.files, { downloadable: false });
			const form = page.locator(`#access form#request-access-form[method="post"][action="/-/access/models/${GATED}"]`);
			assert.equal(await form.count(), 1, "#request-access-form");

			// The same POST without the page's Origin (a cross-site form, a script elsewhere): refused.
			for (const origin of [undefined, "http://evil.invalid"]) {
				const res = await fetch(`${world.url}/-/access/models/${GATED}`, {
					method: "POST",
					redirect: "manual",
					headers: { cookie: `hubmirror_token=${world.tokens.reader}`, "content-type": "application/x-www-form-urlencoded", ...(origin ? { origin } : {}) },
					body: "",
				});
				assert.equal(res.status, 403, `POST /-/access without the page's Origin (${origin ?? "none"})`);
			}

			await clickThrough(page, form.locator("#request-access"), (u) => u.pathname === `/-/models/${GATED}`);
			assert.match(await page.locator("#access #access-state").innerText(), /pending/i, "#access-state after asking");
			await checkFileRows(page, repo, repo.files, { downloadable: false });
			await screenshot(page, "gated.png");

			await cli(["access", "grant", GATED, "--user", "reader"]);
			await page.reload();
			await checkFileRows(page, repo, repo.files);
			assertCleanPages(seen, "the gated repo", { statuses: [401] });
		});
	});

	test("the status and integrity pages", { timeout: 60_000 }, async () => {
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			await visit(page, "/-/status");
			const rows = await page.$$eval("#status-table tr", (trs) =>
				trs.map((tr) => ({ text: [...tr.querySelectorAll("td, th")].map((c) => c.textContent.replace(/\s+/g, " ").trim()).join(" "), links: [...tr.querySelectorAll("a[href]")].map((a) => a.getAttribute("href")) })),
			);
			const synced = rows.find((r) => r.links.some((href) => linkTarget(href, page.url()) === `/-/models/${SYNCED}`));
			assert.ok(synced, `no #status-table row links to ${SYNCED}: ${JSON.stringify(rows)}`);
			assert.match(synced.text, /\bmain\b/, "the row's revision");
			assert.match(synced.text, /\bsync\b/, "the row's source");
			assert.ok(synced.text.includes(world.upstream.url.replace(/^https?:\/\//, "")), `the row's upstream: ${synced.text}`);
			assert.ok(synced.text.includes(world.commits[SYNCED].slice(0, 7)), `the row's commit: ${synced.text}`);
			assert.ok(!(await page.content()).includes(PRIVATE), `${PRIVATE} is named on the status page`);
			const rule = (await page.$$eval("#rules-table tbody td", (tds) => tds.map((td) => td.textContent.trim()))).join(" ");
			assert.ok(rule.includes(SYNCED) && /\bmain\b/.test(rule), `the config's rule: ${rule}`);
			await screenshot(page, "status.png");
			const sections = { "#jobs": await page.locator("#jobs").count(), "#fills": await page.locator("#fills").count() };

			await visit(page, "/-/integrity");
			const keyLink = page.locator('#signing-key a[href="/api/integrity/key"]');
			assert.equal(await keyLink.count(), 1, "#signing-key links to /api/integrity/key");
			assert.equal((await page.request.get(`${world.url}/api/integrity/key`)).status(), 200, "GET /api/integrity/key");
			assert.ok(await page.locator("#blob-states").count(), "#blob-states");
			assert.ok(await page.locator("#verify-jobs").count(), "#verify-jobs");
			assert.match(await page.locator("#check-howto").textContent(), /hubmirror check/, "#check-howto");
			const manifestPath = `/api/integrity/models/${FINETUNE}/${world.commits[FINETUNE]}`;
			const manifests = await page.$$eval("#manifest-table a[href]", (as) => as.map((a) => a.getAttribute("href")));
			const link = manifests.find((href) => linkTarget(href, page.url()) === manifestPath);
			assert.ok(link, `no #manifest-table link to ${manifestPath} among ${JSON.stringify(manifests)}`);
			const res = await page.request.get(new URL(link, page.url()).href);
			assert.equal(res.status(), 200, `GET ${link}`);
			const signed = await res.json();
			assert.equal(typeof signed.signature, "string", "the manifest's signature");
			assert.ok(signed.signature.length > 0, "the manifest's signature");
			assert.deepEqual([signed.manifest?.repo, signed.manifest?.commit], [FINETUNE, world.commits[FINETUNE]], "the manifest's repo and commit");
			assert.ok(!(await page.content()).includes(PRIVATE), `${PRIVATE} is named on the integrity page`);
			await screenshot(page, "integrity.png");
			assertCleanPages(seen, "status and integrity");
			assert.deepEqual(sections, { "#jobs": 1, "#fills": 1 }, "the status page's sections");
		});
	});

	test("the admin page: a sign-in link, 403, then users and tokens for an admin; signing out", { timeout: 60_000 }, async () => {
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			const res = await page.goto(`${world.url}/-/admin`);
			assert.ok(res.status() === 401 || res.status() === 403, `anonymous GET /-/admin: ${res.status()}`);
			const signInLinks = await page.$$eval('a[href^="/-/signin"]', (as) => as.filter((a) => !a.closest("#site-nav")).length);
			assert.ok(signInLinks > 0, "no sign-in link on the admin page for an anonymous caller");
			assert.equal(await page.locator("#users, #tokens").count(), 0, "anonymous: #users or #tokens");
			await signIn(page, world.tokens.reader);
			await visit(page, "/-/admin", 403);
			assert.equal(await page.locator("#users, #tokens").count(), 0, "reader: #users or #tokens");
			assert.ok(!(await navTargets(page)).includes("/-/admin"), "an Admin link for a user who is no admin");
			assertCleanPages(seen, "the admin page refused", { statuses: [401, 403] });
		});
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			await signIn(page, world.tokens.root);
			await clickThrough(page, await navLink(page, "/-/admin"), (u) => u.pathname === "/-/admin");
			assert.equal(seen.documents.at(-1)?.status, 200, "the admin's GET /-/admin");
			const users = await page.locator("#users").innerText();
			for (const user of ["reader", "root"]) assert.match(users, new RegExp(`\\b${user}\\b`), `#users lists ${user}`);
			const tokens = await page.locator("#tokens").innerText();
			for (const name of Object.values(world.tokenNames)) assert.ok(tokens.includes(name), `#tokens lists ${name}: ${tokens}`);
			assert.ok(await page.locator("#grants").count(), "#grants");
			assert.ok(await page.locator("#audit").count(), "#audit");
			await screenshot(page, "admin.png");

			await clickThrough(page, page.locator("#signout-form button, #signout-form [type=submit]").first(), (u) => u.pathname === "/");
			assert.equal((await context.cookies()).filter((c) => c.name === "hubmirror_token" && c.value).length, 0, "the cookie after signing out");
			assert.ok((await navTargets(page)).includes("/-/signin"), "Sign in after signing out");
			const refused = await page.goto(`${world.url}/-/admin`);
			assert.ok(refused.status() === 401 || refused.status() === 403, `GET /-/admin after signing out: ${refused.status()}`);
			assert.equal(await page.locator("#users, #tokens").count(), 0, "#users or #tokens after signing out");
			assertCleanPages(seen, "the admin page", { statuses: [401, 403] });
		});
	});

	test("a 360 px wide screen: no sideways scrolling; the lineage graph by keyboard", { timeout: 60_000 }, async () => {
		await withContext(
			async (context) => {
				const { page, seen } = await openPage(context);
				for (const path of [`/-/models/${FINETUNE}`, "/"]) {
					await visit(page, path);
					const width = await page.evaluate(() => document.documentElement.scrollWidth);
					assert.ok(width <= 362, `${path} at 360 px: the document is ${width} px wide`);
				}
				await visit(page, `/-/lineage/${BASE}`);
				let focused = null;
				for (let i = 0; i < 80 && !focused; i++) {
					await page.keyboard.press("Tab");
					focused = await page.evaluate(() => {
						const el = document.activeElement;
						return el && el.tagName.toLowerCase() === "a" && el.closest("#lineage svg, #lineage-table") ? el.textContent.replace(/\s+/g, " ").trim() : null;
					});
				}
				assert.ok(focused, "Tab never reaches a link of the lineage graph or its table");
				assertCleanPages(seen, "the narrow screen");
			},
			{ viewport: { width: 360, height: 740 } },
		);
	});

	test("no page shows a token secret", { timeout: 60_000 }, async () => {
		const bodies = (await Promise.all(world.bodies)).filter((b) => b.body);
		assert.ok(bodies.length > 20, `only ${bodies.length} pages were kept`);
		// And every page as the admin sees it, signed in by the cookie the sign-in form sets.
		for (const path of ["/", "/-/datasets", "/-/status", "/-/integrity", "/-/admin", "/-/signin", `/-/models/${FINETUNE}`, `/-/models/${GATED}`, `/-/models/${PRIVATE}`, `/-/lineage/${BASE}`]) {
			const res = await fetch(world.url + path, { headers: { cookie: `hubmirror_token=${world.tokens.root}` } });
			bodies.push({ url: path, body: await res.text() });
		}
		for (const [who, secret] of Object.entries(world.tokens)) {
			const leaks = bodies.filter((b) => b.body.includes(secret)).map((b) => b.url);
			assert.deepEqual(leaks, [], `${who}'s token secret is in these pages`);
		}
	});
});
