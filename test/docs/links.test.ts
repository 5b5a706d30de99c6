/** Every link in the repository's Markdown resolves; package READMEs link absolutely (npm). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot } from '../../packages/test-utils/src/vitest-project'
import { anchorsOf, brokenLinks, REPO_URL } from './links'

describe('Markdown links', () => {
  it('every relative and repository link names an existing file and heading', () => {
    expect(brokenLinks(repoRoot)).toEqual([])
  })

  it('flags what it should: a missing file, a missing heading, a relative link in a package README', () => {
    const root = mkdtempSync(join(tmpdir(), 'herdless-links-'))
    try {
      mkdirSync(join(root, 'docs'))
      mkdirSync(join(root, 'packages', 'a'), { recursive: true })
      writeFileSync(join(root, 'docs', 'guide.md'), '# Guide\n\n## Two words\n')
      writeFileSync(
        join(root, 'README.md'),
        [
          '[ok](docs/guide.md#two-words) [gone](docs/nope.md) [bad anchor](docs/guide.md#three)',
          '```md',
          '[in a fence](not/checked.md)',
          '```',
          '`[in code](not/checked.md)`',
        ].join('\n'),
      )
      writeFileSync(
        join(root, 'packages', 'a', 'README.md'),
        [
          `[abs ok](${REPO_URL}/blob/main/docs/guide.md#guide) [abs gone](${REPO_URL}/blob/main/docs/gone.md)`,
          `[abs anchor](${REPO_URL}/blob/main/docs/guide.md#nope) [folder as blob](${REPO_URL}/blob/main/docs)`,
          '[relative](../../docs/guide.md) [in page](#a) [elsewhere](https://example.com/x.md)',
          '# A',
        ].join('\n'),
      )
      const problems = brokenLinks(root, ['README.md', 'packages/a/README.md'])
      expect(problems).toEqual([
        'README.md:1: docs/nope.md: docs/nope.md does not exist',
        'README.md:1: docs/guide.md#three: no heading #three in docs/guide.md',
        `packages/a/README.md:1: ${REPO_URL}/blob/main/docs/gone.md: docs/gone.md does not exist`,
        `packages/a/README.md:2: ${REPO_URL}/blob/main/docs/guide.md#nope: no heading #nope in docs/guide.md`,
        `packages/a/README.md:2: ${REPO_URL}/blob/main/docs: docs is a folder; use /tree/main/`,
        `packages/a/README.md:3: relative link ../../docs/guide.md: npm cannot resolve it; use ${REPO_URL}/blob/main/...`,
      ])
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })

  it('slugs headings as GitHub does (code, punctuation, duplicates)', () => {
    const anchors = anchorsOf('# `getOrSet(key, loader)`\n## Options: TTL & units\n## Options: TTL & units\n')
    expect([...anchors]).toEqual(['getorsetkey-loader', 'options-ttl--units', 'options-ttl--units-1'])
  })
})
