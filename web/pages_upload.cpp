// The upload form and POST /upload: a server path inside [web] upload_roots, or an archive sent
// from the browser (kept in [web] upload_dir), registered as an upload and queued through the
// agents' plugins exactly as `jobctl upload` does: the upload row and queue_for_upload in one
// transaction. That transaction uses libagent's blocking connection (queue_plan's API), so it
// runs in a worker thread of GLib's pool (GTask) with a connection of its own and a copy of
// what it needs; the request waits, paused, and is answered on the loop when it is done.
#include <fcntl.h>
#include <fmt/format.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "agent/db.hpp"
#include "html.hpp"
#include "path_guard.hpp"
#include "queue_plan.hpp"
#include "server.hpp"

namespace web {
namespace {

// A file name from a browser as a safe base name: no directories, no control characters.
std::string safe_name(const std::string& name) {
  std::string base = name.substr(name.find_last_of("/\\") + 1);
  std::string out;
  for (char c : base) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '_' : c;
  if (out.empty() || out == "." || out == "..") out = "upload";
  return out.substr(0, 200);
}

// Writes `data` to a new file in `dir`; returns its path or throws.
std::string keep_archive(const std::string& dir, const UploadedFile& f) {
  if (g_mkdir_with_parents(dir.c_str(), 0750) != 0)
    throw std::runtime_error(fmt::format("cannot create '{}': {}", dir, g_strerror(errno)));
  auto now = std::chrono::system_clock::now().time_since_epoch();
  std::string path = fmt::format("{}/{}-{}-{}", dir,
                                 std::chrono::duration_cast<std::chrono::microseconds>(now).count(),
                                 g_random_int(), safe_name(f.filename));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0)
    throw std::runtime_error(fmt::format("cannot create '{}': {}", path, g_strerror(errno)));
  std::size_t done = 0;
  while (done < f.data.size()) {
    ssize_t n = ::write(fd, f.data.data() + done, f.data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      throw std::runtime_error(fmt::format("cannot write '{}': {}", path, g_strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return path;
}

std::string form(const App& app, const std::string& message) {
  std::string boxes;
  for (const auto& [name, type] : app.config.agents) {
    if (!type.plugin) continue;
    std::string deps;
    for (const auto& d : type.plugin->depends) deps += (deps.empty() ? "" : " ") + d;
    boxes += fmt::format(
        "<label class=\"plugin\"><input type=\"checkbox\" name=\"agent\" value=\"{0}\" "
        "data-depends=\"{1}\"{2}> {3} <small>({0}{4})</small></label>\n",
        esc(name), esc(deps), type.plugin->default_pipeline ? " checked" : "",
        esc(type.plugin->title.empty() ? name : type.plugin->title),
        deps.empty() ? "" : "; needs " + esc(deps));
  }
  std::string roots;
  for (const auto& r : app.web.upload_roots) roots += (roots.empty() ? "" : ", ") + esc(r);
  return fmt::format(
      "{}<form method=\"post\" action=\"/upload\" enctype=\"multipart/form-data\" id=\"upload\">"
      "<input type=\"hidden\" name=\"csrf\" value=\"{}\">"
      "<p><label>A directory or archive on the server (inside {}):<br>"
      "<input name=\"path\" size=\"60\"></label></p>"
      "<p><label>or an archive from this computer (at most {} MiB):<br>"
      "<input type=\"file\" name=\"archive\"></label></p>"
      "<p><label>Name <input name=\"name\" size=\"30\"></label></p>"
      "<fieldset><legend>Agents (their dependencies are ticked for you)</legend>{}</fieldset>"
      "<p><button type=\"submit\">Upload and queue</button></p></form>",
      message, esc(app.csrf), roots.empty() ? "no upload roots configured" : roots,
      app.web.upload_limit >> 20, boxes.empty() ? "No agent has a [plugin] group." : boxes);
}

// One upload being queued in a worker thread: what the worker reads and writes (the task's
// data, which may be freed on either thread), and the request that waits for it (the callback's
// data, touched and freed on the loop only).
struct QueueingWork {
  std::string conninfo;
  sched::Config config;  // a copy: the worker reads nothing of App
  jobctl::QueueRequest q;
  std::string path, name;
  long long job = 0;
  std::string error;
};
struct WaitingRequest {
  App* app;
  RequestPtr req;
};

void queue_in_worker(GTask* task, gpointer, gpointer data, GCancellable*) {
  auto* w = static_cast<QueueingWork*>(data);
  try {
    agent::Database db(w->conninfo);
    jobctl::QueueResult r = jobctl::in_transaction(db, [&] {
      w->q.upload = std::stoll(db.exec("INSERT INTO upload (upload_filename, upload_desc, "
                                       "upload_origin) VALUES ($1, $2, 'web') RETURNING upload_pk",
                                       {w->path, w->name.substr(0, 200)})
                                   .get(0, 0));
      return jobctl::queue_for_upload(db, w->config, w->q);
    });
    w->job = r.job;
  } catch (const std::exception& e) {
    w->error = e.what();
  }
  g_task_return_boolean(task, TRUE);
}

void queued(GObject*, GAsyncResult* result, gpointer data) {
  std::unique_ptr<WaitingRequest> waiting(static_cast<WaitingRequest*>(data));
  const auto* w = static_cast<const QueueingWork*>(g_task_get_task_data(G_TASK(result)));
  const RequestPtr& req = waiting->req;
  if (!w->error.empty())
    req->html(500, page_begin("Upload", "/upload") + "<p class=\"error\">" +
                       esc("queueing failed: " + w->error) + "</p>" + form(*waiting->app, "") +
                       page_end());
  else if (w->job == 0)
    req->redirect(fmt::format("/upload/{}", w->q.upload));
  else
    req->redirect(fmt::format("/job/{}", w->job));
}

void queue_upload(App& app, const RequestPtr& req, jobctl::QueueRequest q, std::string path,
                  std::string name) {
  auto* w = new QueueingWork{
      app.conninfo, app.config, std::move(q), std::move(path), std::move(name), 0, {}};
  GTask* task = g_task_new(nullptr, nullptr, queued, new WaitingRequest{&app, req});
  g_task_set_task_data(task, w, [](gpointer p) { delete static_cast<QueueingWork*>(p); });
  g_task_run_in_thread(task, queue_in_worker);
  g_object_unref(task);
}

}  // namespace

void page_upload_form(App& app, const RequestPtr& req) {
  req->html(200, page_begin("Upload", "/upload") + form(app, "") + page_end());
}

void post_upload(App& app, const RequestPtr& req) {
  auto fail = [&](int status, const std::string& why) {
    req->html(status, page_begin("Upload", "/upload") + "<p class=\"error\">" + esc(why) + "</p>" +
                          form(app, "") + page_end());
  };
  jobctl::QueueRequest q;
  q.agents = req->fields("agent");
  if (q.agents.empty()) return fail(400, "tick at least one agent");
  for (const auto& a : q.agents) {
    const auto* type = app.config.agent(a);
    if (type == nullptr || !type->plugin)
      return fail(400, fmt::format("'{}' is not an agent with a plugin", a));
  }
  const UploadedFile* file = nullptr;
  for (const auto& f : req->files())
    if (f.field == "archive" && !f.filename.empty() && !f.data.empty()) file = &f;
  std::string path;
  if (file != nullptr) {
    if (app.web.upload_dir.empty())
      return fail(403, "archives from the browser need [web] upload_dir or upload_roots");
    try {
      path = keep_archive(app.web.upload_dir, *file);
    } catch (const std::exception& e) {
      return fail(500, e.what());
    }
  } else {
    GuardedPath g = guard_path(req->field("path"), app.web.upload_roots);
    if (!g.ok()) return fail(403, fmt::format("'{}' refused: {}", req->field("path"), g.error));
    path = g.path;
  }
  std::string name = req->field("name");
  if (name.empty())
    name = file != nullptr ? safe_name(file->filename)
                           : std::filesystem::path(path).filename().string();
  queue_upload(app, req, std::move(q), std::move(path), std::move(name));
}

}  // namespace web
