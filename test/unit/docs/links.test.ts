import { existsSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { anchors, isRelative, links, projectPages, ROOT, readPage, slug } from "./markdown.js";

/** Where a relative link lands: the repository path of its file (or the page itself) and its anchor. */
function resolveLink(page: string, target: string): { path: string; anchor: string | undefined } {
  const [file = "", anchor] = target.split("#", 2);
  const path = file === "" ? page : normalize(join(dirname(page), decodeURIComponent(file)));
  return { path, anchor };
}

describe("the slug of a heading is GitHub's anchor", () => {
  it("drops punctuation, keeps hyphens, turns spaces into hyphens", () => {
    expect(slug("10.1 Rules K1–K9 as the key implements them")).toBe("101-rules-k1k9-as-the-key-implements-them");
    expect(slug("Performance (100 000 borrow rows, 35 MB file)")).toBe("performance-100-000-borrow-rows-35-mb-file");
    expect(slug("`doctor`")).toBe("doctor");
    expect(slug("Benchmark: the cost of a durable borrow")).toBe("benchmark-the-cost-of-a-durable-borrow");
  });

  it("numbers repeated headings as GitHub does", () => {
    expect([...anchors("# A\n## Notes\n## Notes\n```\n## not a heading\n```\n")]).toEqual(["a", "notes", "notes-1"]);
  });
});

describe("links in README.md, CONTRIBUTING.md and docs/", () => {
  const pages = projectPages();

  it.each(pages)("every relative link and anchor in %s resolves", (page) => {
    const broken: string[] = [];
    for (const link of links(readPage(page))) {
      if (!isRelative(link.target)) continue;
      const { path, anchor } = resolveLink(page, link.target);
      const where = `${page}:${link.line} → ${link.target}`;
      if (path.startsWith("..") || !existsSync(join(ROOT, path))) {
        broken.push(`${where}: no such file`);
        continue;
      }
      if (anchor === undefined || anchor === "") continue;
      if (!path.endsWith(".md") || statSync(join(ROOT, path)).isDirectory()) {
        broken.push(`${where}: an anchor into a file that is not Markdown`);
      } else if (!anchors(readPage(path)).has(anchor)) {
        broken.push(`${where}: ${path} has no heading with that anchor`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("docs/README.md lists every page of docs/", () => {
    const listed = new Set(
      links(readPage("docs/README.md"))
        .filter((link) => isRelative(link.target))
        .map((link) => resolveLink("docs/README.md", link.target).path),
    );
    const missing = pages.filter((page) => page.startsWith("docs/") && page !== "docs/README.md" && !listed.has(page));
    expect(missing).toEqual([]);
  });

  it("the README links to the docs index and to CONTRIBUTING.md", () => {
    const targets = links(readPage("README.md")).map((link) => link.target);
    expect(targets).toContain("docs/README.md");
    expect(targets).toContain("CONTRIBUTING.md");
  });
});
