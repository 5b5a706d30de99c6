/**
 * The code in the migration guides compiles. Blocks fenced as ```ts herdless in
 * docs/migrating/*.md (GitHub highlights them as ts; the second word marks them for this test)
 * are written to a temp dir, one module each, and type-checked in one `tsc --noEmit` run against
 * the built .d.ts of @herdless/core, /express and /nestjs (pnpm build first; `pnpm test` does).
 * The "before" blocks fenced as ```ts bentocache and ```ts cache-manager are checked in the same
 * run against the versions the benchmarks install (bentocache 1.6.1, cache-manager 7.2.9): the
 * temp dir sits under benchmarks/node_modules so they resolve from there. The apicache and
 * @nestjs/cache-manager "before" blocks are plain ```ts: those packages are not in the repository.
 *
 * Snippets may use the globals declared in PRELUDE (db, User, Product) so that they can show a
 * data call without inventing its types each time. A canary file with one known error runs in the
 * same program: the test fails if tsc reports it missing (the check would be vacuous) or reports
 * anything else.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot } from '../../packages/test-utils/src/vitest-project'

const GUIDES = join(repoRoot, 'docs', 'migrating')

const PRELUDE = `declare global {
  interface User { id: number; name: string }
  interface Product { id: number; name: string; price: number }
  const db: {
    users: {
      findById(id: number): Promise<User>
      list(): Promise<User[]>
      update(id: number, patch: Partial<User>): Promise<void>
    }
    products: {
      findById(id: number): Promise<Product>
      list(): Promise<Product[]>
      insert(product: Omit<Product, 'id'>): Promise<Product>
      update(id: number, patch: Partial<Product>): Promise<void>
    }
  }
}
export {}
`
const CANARY = `import { createCache } from '@herdless/core'
// The one error this program must report: ttl is a duration, not a boolean.
export const canary = createCache({ ttl: true })
`

interface Snippet {
  guide: string
  line: number
  code: string
}

/** The second word of a checked fence: whose code it is. */
const CHECKED = ['herdless', 'bentocache', 'cache-manager'] as const

/** Every ```ts <library> block of a guide (library one of CHECKED), with the line its code starts on. */
function checkedBlocks(guide: string, markdown: string, library?: (typeof CHECKED)[number]): Snippet[] {
  const blocks: Snippet[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```ts (\S+)\s*$/.exec(lines[i] ?? '')?.[1]
    if (fence === undefined || !(CHECKED as readonly string[]).includes(fence)) continue
    if (library !== undefined && fence !== library) continue
    const start = i + 1
    let end = start
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? '')) end++
    blocks.push({ guide, line: start + 1, code: lines.slice(start, end).join('\n') })
    i = end
  }
  return blocks
}

const pkg = (...parts: string[]) => join(repoRoot, 'packages', ...parts)

function tsc(dir: string): Promise<string> {
  const bin = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, '-p', '.', '--pretty', 'false'],
      { cwd: dir, timeout: 120_000 },
      (_err, stdout, stderr) => resolve(`${stdout}${stderr}`),
    )
  })
}

describe('migration guides', () => {
  const guides = readdirSync(GUIDES).filter((file) => file.endsWith('.md'))

  it('each guide shows Herdless code', () => {
    expect(guides.sort()).toEqual([
      'apicache.md',
      'bentocache.md',
      'cache-manager.md',
      'nestjs-cache-manager.md',
    ])
    for (const guide of guides) {
      const blocks = checkedBlocks(guide, readFileSync(join(GUIDES, guide), 'utf8'), 'herdless')
      expect(blocks.length, guide).toBeGreaterThan(0)
    }
  })

  it('their ```ts herdless / bentocache / cache-manager blocks type-check', async () => {
    const dir = join(repoRoot, 'benchmarks', 'node_modules', `.doc-snippets-${process.pid}`)
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    try {
      const files: Record<string, string> = {}
      for (const guide of guides) {
        for (const s of checkedBlocks(guide, readFileSync(join(GUIDES, guide), 'utf8'))) {
          files[`${guide.replace(/\.md$/, '')}-L${s.line}.ts`] = `${s.code}\nexport {}\n`
        }
      }
      files['prelude.d.ts'] = PRELUDE
      files['canary.ts'] = CANARY
      for (const [name, code] of Object.entries(files)) writeFileSync(join(dir, name), code)
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2023'],
            module: 'ESNext',
            moduleResolution: 'Bundler',
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            esModuleInterop: true,
            experimentalDecorators: true,
            emitDecoratorMetadata: true,
            types: ['node'],
            typeRoots: [join(repoRoot, 'node_modules', '@types')],
            paths: {
              '@herdless/core': [pkg('core', 'dist', 'index.d.ts')],
              '@herdless/express': [pkg('express', 'dist', 'index.d.ts')],
              '@herdless/nestjs': [pkg('nestjs', 'dist', 'index.d.ts')],
              '@nestjs/common': [pkg('nestjs', 'node_modules', '@nestjs', 'common')],
              '@nestjs/core': [pkg('nestjs', 'node_modules', '@nestjs', 'core')],
              '@nestjs/config': [pkg('nestjs', 'node_modules', '@nestjs', 'config')],
              express: [pkg('express', 'node_modules', '@types', 'express')],
              ioredis: [pkg('core', 'node_modules', 'ioredis')],
            },
          },
          include: ['*.ts'],
        }),
      )
      const output = await tsc(dir)
      const errors = output.split('\n').filter((line) => /error TS\d+/.test(line))
      expect(errors.filter((line) => line.startsWith('canary.ts'))).toHaveLength(1)
      expect(errors.filter((line) => !line.startsWith('canary.ts'))).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 150_000)
})
