import { cacheContract } from './contract'

cacheContract({ name: 'embedded memory store', options: () => ({}) })
