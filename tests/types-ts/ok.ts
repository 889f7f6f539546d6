// Must compile: typed use of database.types.ts through supabase-js.
import { createClient } from "@supabase/supabase-js"
import {
  Constants,
  type CompositeTypes,
  type Database,
  type Enums,
  type Json,
  type Tables,
  type TablesInsert,
  type TablesUpdate,
} from "./database.types"

const supabase = createClient<Database>("http://localhost:54321", "anon-key")

export async function ok(): Promise<void> {
  // select: the row type flows through.
  const { data: customers } = await supabase.from("customers").select("id, name, mood, moods, home")
  if (customers) {
    const id: number = customers[0].id
    const name: string = customers[0].name
    const mood: "sad" | "ok" | "happy" | null = customers[0].mood
    const moods: Enums<"mood">[] = customers[0].moods
    const street: string | null | undefined = customers[0].home?.street
    void [id, name, mood, moods, street]
    // The row is typed, not `any`: (an unused @ts-expect-error is itself an error)
    // @ts-expect-error name is a string
    const wrong: number = customers[0].name
    void wrong
  }
  // Embedding through a foreign key.
  const { data: orders } = await supabase.from("orders").select("id, total, customers(name)")
  void orders

  // insert: required columns only; defaulted, nullable and identity columns may be left out.
  await supabase.from("customers").insert({ email: "a@b.c" })
  await supabase.from("orders").insert({ customer_id: 1, total: 10, qty: 1, unit: 10 })
  await supabase.from("orders").insert({ id: 5, customer_id: 1, total: 10, qty: 1, unit: 10, status: "happy" })
  const row: TablesInsert<"all_types"> = { c_text_array: ["x"], c_jsonb: { a: [1, "b", null] } }
  await supabase.from("all_types").insert(row)

  // update: any subset.
  await supabase.from("customers").update({ name: "x", mood: null }).eq("id", 1)
  const patch: TablesUpdate<"orders"> = { note: null }
  await supabase.from("orders").update(patch).eq("id", 1)

  // Views.
  const { data: names } = await supabase.from("customer_names").select("*")
  const n: string | null | undefined = names?.[0]?.name
  await supabase.from("customer_names").update({ name: "y" }).eq("id", 1)
  const { data: counts } = await supabase.from("mood_counts").select("mood, n")
  void [n, counts]

  // rpc.
  const { data: answer } = await supabase.rpc("answer")
  const a: number | null = answer
  const { data: found } = await supabase.rpc("search_customers", { q: "a%" })
  const firstEmail: string | undefined = found?.[0]?.email
  const { data: summary } = await supabase.rpc("order_summary", { cust: 1 })
  const total: number | undefined = summary?.[0]?.total
  const { data: hi } = await supabase.rpc("greet", { name: "x", loud: true })
  const h: string | null = hi
  const { data: current } = await supabase.rpc("current_mood")
  const c: Database["public"]["Enums"]["mood"] | null = current
  await supabase.rpc("touch", { cust: 1 })
  const { data: list } = await supabase.rpc("mood_list", { moods: ["sad"] })
  const { data: split } = await supabase.rpc("split_total", { total: 12 })
  const net: number | undefined = split?.net
  const { data: bumped } = await supabase.rpc("bump", { n: 1 })
  const b: number | null = bumped
  const { data: joined } = await supabase.rpc("concat_all", { parts: ["a", "b"] })
  const { data: shown } = await supabase.from("customers").select("id, display_name")
  const dn: string | null | undefined = shown?.[0]?.display_name
  void [a, firstEmail, total, h, c, list, net, b, joined, dn]
  // @ts-expect-error rpc results are typed, not `any`
  const wrongAnswer: string | null = answer
  void wrongAnswer

  // Enums and helpers.
  const all: readonly Enums<"mood">[] = Constants.public.Enums.mood
  const m: Enums<"mood"> = "ok"
  const addr: CompositeTypes<"address"> = { street: "s", zip: null, tags: ["t"] }
  const t: Tables<"customers"> | Tables<"order_totals"> | null = null
  const j: Json = { a: [1, true, null, { b: "c" }] }
  void [all, m, addr, t, j]
}
