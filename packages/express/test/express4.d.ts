// `express4` is an npm alias of express@4 (a devDependency): the Express 5 types describe its API closely enough for the tests.
declare module 'express4' {
  import express from 'express'
  export default express
}
