#!/usr/bin/env node
// The `bin` pnpm/npm link at install time. It is committed, not built: in a fresh clone pnpm links
// bins during `pnpm install`, before `pnpm build` has written dist/, and a bin pointing at a file
// that does not exist yet is skipped for good ("WARN Failed to create bin"), leaving
// `pnpm exec herdless` with "Command herdless not found". This shim always exists; it loads the
// built CLI when it is run, so the order install -> build -> run works.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const cli = new URL('../dist/bin.js', import.meta.url)
if (existsSync(fileURLToPath(cli))) {
  await import(cli.href)
} else {
  console.error(
    `herdless: the CLI is not built (${fileURLToPath(cli)} is missing); run \`pnpm build\` at the repository root first`,
  )
  process.exitCode = 2
}
