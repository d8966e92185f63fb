// Creating projects, keys and provider keys through Supabase REST as the service role, as the
// dashboard's server side does. Keys are stored hashed; provider keys encrypted.
import { newApiKey, encryptSecret } from './crypto.mjs';

export async function createProject(admin, { name, plan = 'free' }) {
  return admin.insert('projects', { name, plan });
}

/** Creates a key and returns it in full (the only time it is ever visible) with its row. */
export async function createApiKey(admin, projectId, { kind = 'live', name = null } = {}) {
  const k = newApiKey(kind);
  const row = await admin.insert('api_keys', { project_id: projectId, key_hash: k.hash, key_prefix: k.prefix, kind, name });
  return { key: k.key, row };
}

export async function setProviderKey(admin, projectId, provider, plaintext, encryptionKey) {
  const row = { project_id: projectId, provider, encrypted_key: encryptSecret(encryptionKey, plaintext), key_hint: `${plaintext.slice(0, 3)}...${plaintext.slice(-4)}` };
  await admin.remove(`provider_keys?project_id=eq.${projectId}&provider=eq.${provider}`);
  return admin.insert('provider_keys', row);
}
