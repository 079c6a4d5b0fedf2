// jobctl db init: install or upgrade the schema, creating the database first when it is
// missing (the conninfo's dbname, made through the server's `postgres` database).
#include <libpq-fe.h>

#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "context.hpp"
#include "output.hpp"
#include "schema_install.hpp"

namespace jobctl {

namespace {

struct ConninfoFree {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

// The dbname a conninfo names (libpq's defaults and PG* environment included).
std::string dbname_of(const std::string& conninfo) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoFree> opts(PQconninfoParse(conninfo.c_str(), &err));
  if (!opts) {
    std::string why = err ? err : "out of memory";
    PQfreemem(err);
    throw Failure(fmt::format("db init: bad conninfo: {}", why));
  }
  for (auto* o = opts.get(); o->keyword; ++o)
    if (std::string(o->keyword) == "dbname" && o->val) return o->val;
  const char* env = std::getenv("PGDATABASE");
  if (env && *env) return env;
  const char* user = std::getenv("PGUSER");
  return user && *user ? user : "";
}

// Creates the database when connecting says it does not exist (SQLSTATE 3D000).
void create_if_missing(Context& ctx, const std::string& conninfo) {
  try {
    agent::Database probe(conninfo);
    return;
  } catch (const agent::Error& e) {
    if (e.sqlstate() != "3D000" &&
        std::string(e.what()).find("does not exist") == std::string::npos)
      throw Failure(fmt::format("db init: {}", e.what()));
  }
  std::string name = dbname_of(conninfo);
  if (name.empty()) throw Failure("db init: the conninfo names no database; give dbname=...");
  try {
    agent::Database admin(conninfo + " dbname=postgres");
    admin.exec("CREATE DATABASE " + admin.quote_identifier(name));
  } catch (const agent::Error& e) {
    throw Failure(fmt::format("db init: cannot create the database '{}': {}", name, e.what()));
  }
  if (!ctx.json) std::cout << "database '" << name << "' created\n";
}

int db(Context& ctx, const po::variables_map& vm) {
  auto action = vm["action"].as<std::string>();
  if (action != "init") throw Usage(fmt::format("db: unknown action '{}'; expected init", action));
  std::string conninfo = ctx.conninfo();
  create_if_missing(ctx, conninfo);
  jobline::schema::InstallResult r;
  try {
    r = jobline::schema::install(conninfo);
  } catch (const std::exception& e) {
    throw Failure(fmt::format("db init: {}", e.what()));
  }
  if (ctx.json) {
    std::cout << Json{{"from_version", r.from_version},
                      {"to_version", r.to_version},
                      {"applied", r.applied}}
                     .dump(2)
              << "\n";
  } else if (!r.changed()) {
    std::cout << "schema is up to date (version " << r.to_version << "): nothing changed\n";
  } else {
    std::cout << fmt::format("schema upgraded from version {} to {}: {}\n", r.from_version,
                             r.to_version, fmt::join(r.applied, " "));
  }
  return 0;
}

}  // namespace

void add_db_commands(std::vector<Command>& out) {
  out.push_back({"db",
                 "db init: create the database when it is missing, then install or upgrade the "
                 "schema (idempotent; like scheduler --init-db).",
                 "db init",
                 [] {
                   po::options_description o("options");
                   o.add_options()("action", po::value<std::string>()->required(), "init");
                   return o;
                 },
                 {{"action", 1}},
                 db});
}

}  // namespace jobctl
