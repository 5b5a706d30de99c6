import { appendFile } from 'node:fs/promises'
import { herdlessTsup } from '../../tsup.shared'

// CommonJS users write `require('@herdless/fastify')` and expect the plugin itself, as with
// every fastify-plugin package: module.exports becomes the plugin, with the named exports
// (default, herdless, PluginRegistrationError, VERSION) on it. Appended after the bundle's
// own `exports.x = ...` lines, which a tsup footer would precede.
export default herdlessTsup({
  onSuccess: () =>
    appendFile('dist/index.cjs', '\nmodule.exports = Object.assign(exports.default, exports);\n'),
})
