/**
 * Link checker for the repository's Markdown: every relative link, and every absolute link into
 * this repository (`https://github.com/herdless/herdless/blob/main/...`, the form package READMEs
 * use because npm shows them outside the repository), must name a file or folder that exists
 * here, and a `#fragment` must name a heading (GitHub's slugs) or an explicit anchor in it.
 * Package READMEs may not use relative links at all: on npmjs.com they would break.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join, posix, relative } from 'node:path'

/** The repository URL in every package.json (`repository.url` without git+ and .git). */
export const REPO_URL = 'https://github.com/herdless/herdless'
const REPO_LINK = new RegExp(`^${REPO_URL.replace(/[.]/g, '\\.')}/(blob|tree)/main(?:/([^#?]*))?(?:#(.*))?$`)

export interface Link {
  file: string
  line: number
  target: string
}

/** The Markdown files git tracks (untracked scratch files are not the docs). */
export function markdownFiles(root: string): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((file) => file !== '' && existsSync(join(root, file)))
}

/** Text outside fenced code blocks, line numbers kept (fenced lines become empty). */
function proseLines(markdown: string): string[] {
  let fence: string | null = null
  return markdown.split('\n').map((line) => {
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1]
    if (marker !== undefined) {
      if (fence === null) fence = marker[0] ?? null
      else if (marker.startsWith(fence)) fence = null
      return ''
    }
    return fence === null ? line.replace(/`[^`]*`/g, (code) => ' '.repeat(code.length)) : ''
  })
}

/** Every link target in a Markdown text: inline links and images, reference definitions, href/src. */
export function extractLinks(file: string, markdown: string): Link[] {
  const links: Link[] = []
  proseLines(markdown).forEach((text, index) => {
    const line = index + 1
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      links.push({ file, line, target: m[1] ?? '' })
    const ref = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(text)
    if (ref?.[1] !== undefined) links.push({ file, line, target: ref[1] })
    for (const m of text.matchAll(/\b(?:href|src)="([^"]+)"/g)) links.push({ file, line, target: m[1] ?? '' })
  })
  return links
}

/** GitHub's heading anchors of a Markdown text (duplicates get -1, -2, ...), plus explicit ids. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  let fence: string | null = null
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1]
    if (marker !== undefined) {
      if (fence === null) fence = marker
      else if (marker.startsWith(fence)) fence = null
      continue
    }
    if (fence !== null) continue
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) if (m[1] !== undefined) anchors.add(m[1])
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1]
    if (heading === undefined) continue
    const slug = heading
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading keeps its text
      .replace(/<[^>]+>/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return anchors
}

/**
 * What is wrong with one link (null when nothing is). `isPackageReadme`: the file is shown on npm,
 * where only absolute links (and in-page #anchors) work.
 */
export function checkLink(root: string, link: Link, isPackageReadme: boolean): string | null {
  const { target } = link
  let path: string // repository-relative, posix
  let fragment: string | undefined
  let kind: 'blob' | 'tree' | 'any' = 'any'
  const repo = REPO_LINK.exec(target)
  if (repo !== null) {
    kind = repo[1] === 'blob' ? 'blob' : 'tree'
    path = decodeURIComponent(repo[2] ?? '').replace(/\/$/, '')
    fragment = repo[3]
  } else if (target.startsWith(`${REPO_URL}/`) || target === REPO_URL) {
    // Issues, the repository root and the like: not files; nothing to check offline.
    return null
  } else if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) {
    return null // another site
  } else {
    const [rawPath = '', rawFragment] = target.split('#', 2)
    fragment = rawFragment
    if (rawPath === '') path = link.file
    else {
      if (isPackageReadme)
        return `relative link ${target}: npm cannot resolve it; use ${REPO_URL}/blob/main/...`
      path = posix.normalize(
        posix.join(posix.dirname(link.file), decodeURIComponent(rawPath.split('?')[0] ?? '')),
      )
      if (path.startsWith('..')) return `${target} leaves the repository`
    }
  }
  const abs = join(root, path)
  if (!existsSync(abs)) return `${target}: ${path === '' ? '.' : path} does not exist`
  const isDir = statSync(abs).isDirectory()
  if (kind === 'blob' && isDir) return `${target}: ${path} is a folder; use /tree/main/`
  if (kind === 'tree' && !isDir) return `${target}: ${path} is a file; use /blob/main/`
  if (fragment === undefined || fragment === '' || /^L\d+(-L\d+)?$/.test(fragment)) return null
  const doc = isDir ? join(abs, 'README.md') : abs
  if (!doc.endsWith('.md') || !existsSync(doc))
    return `${target}: #${fragment} points into a file with no headings`
  if (isDir && fragment === 'readme') return null
  if (!anchorsOf(readFileSync(doc, 'utf8')).has(decodeURIComponent(fragment).toLowerCase())) {
    return `${target}: no heading #${fragment} in ${relative(root, doc)}`
  }
  return null
}

/** Every broken link under root, as `file:line: message`. */
export function brokenLinks(root: string, files: string[] = markdownFiles(root)): string[] {
  const problems: string[] = []
  for (const file of files) {
    const isPackageReadme = /^packages\/[^/]+\/README\.md$/.test(file)
    for (const link of extractLinks(file, readFileSync(join(root, file), 'utf8'))) {
      const problem = checkLink(root, link, isPackageReadme)
      if (problem !== null) problems.push(`${link.file}:${link.line}: ${problem}`)
    }
  }
  return problems
}
