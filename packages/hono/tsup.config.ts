import { herdlessTsup } from '../../tsup.shared'

export default herdlessTsup()
