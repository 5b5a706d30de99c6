#!/usr/bin/env node
import { runCli } from './cli'

// exitCode, not process.exit(): let stdout drain (a large --json report piped to a file).
runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code
})
