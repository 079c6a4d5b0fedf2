// An upload's results: license counts as a server-rendered SVG chart, the top copyright holders,
// the mime types and a file browser of uploadtree with each file's findings. The result tables
// (license_ref, license_file, copyright, mimetype, pfile.pfile_mimetypefk; SPEC §9) may not be
// installed: the page asks PostgreSQL which exist and leaves the other parts out. Every SQL
// text below is a constant of this file; the request only supplies parameters.
#include <fmt/format.h>

#include <algorithm>

#include "html.hpp"
#include "server.hpp"

namespace web {
namespace {

struct Results {
  bool licenses = false, copyrights = false, mimetypes = false;
  std::string upload_name, upload_path;
  std::vector<std::pair<std::string, long long>> license_counts, holders, types;
  std::string files;
};

std::string svg_chart(const std::vector<std::pair<std::string, long long>>& counts) {
  if (counts.empty()) return "<p>No licenses found.</p>";
  long long top = 1;
  for (const auto& [n, c] : counts) top = std::max(top, c);
  const int row = 22, label = 200, width = 400;
  std::string out = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "role=\"img\" aria-label=\"license counts\">",
      label + width + 60, static_cast<int>(counts.size()) * row + 4);
  int y = 2;
  for (const auto& [name, count] : counts) {
    long long w = std::max(1LL, count * width / top);
    out += fmt::format(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{}\" y=\"{}\" "
        "width=\"{}\" height=\"16\"/><text x=\"{}\" y=\"{}\">{}</text>",
        label - 6, y + 13, esc(name), label, y, w, label + w + 4, y + 13, count);
    y += row;
  }
  return out + "</svg>";
}

std::string count_table(const char* what, const std::vector<std::pair<std::string, long long>>& v) {
  if (v.empty()) return "<p>None found.</p>";
  std::string out =
      fmt::format("<table><thead><tr><th>{}</th><th>Files</th></tr></thead><tbody>", what);
  for (const auto& [name, n] : v)
    out += fmt::format("<tr><td>{}</td><td>{}</td></tr>", esc(name), n);
  return out + "</tbody></table>";
}

std::vector<std::pair<std::string, long long>> pairs(const sched::QueryResult& r) {
  std::vector<std::pair<std::string, long long>> out;
  if (r.ok())
    for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.get(i, 0), r.get_long(i, 1));
  return out;
}

}  // namespace

void page_results(App& app, const RequestPtr& req, long long upload) {
  const std::string item = req->query("item");
  long long parent = item.empty() ? 0 : parse_id(item);
  const std::string up = std::to_string(upload);
  app.db->query(
      "SELECT upload_filename, upload_desc,"
      " to_regclass('license_file') IS NOT NULL AND to_regclass('license_ref') IS NOT NULL,"
      " to_regclass('copyright') IS NOT NULL,"
      " to_regclass('mimetype') IS NOT NULL AND EXISTS (SELECT 1 FROM pg_attribute WHERE"
      "  attrelid = 'pfile'::regclass AND attname = 'pfile_mimetypefk' AND NOT attisdropped)"
      " FROM upload WHERE upload_pk = $1",
      {up}, [&app, req, upload, up, parent](const sched::QueryResult& r) {
        if (!r.ok()) return req->error(503, "database: " + r.error());
        if (r.rows() == 0) return req->error(404, fmt::format("upload {} does not exist", upload));
        auto res = std::make_shared<Results>();
        res->upload_path = r.get(0, 0);
        res->upload_name = r.get(0, 1);
        res->licenses = r.get(0, 2) == "t";
        res->copyrights = r.get(0, 3) == "t";
        res->mimetypes = r.get(0, 4) == "t";
        // The database runs these in order: the last callback renders.
        if (res->licenses)
          app.db->query(
              "SELECT lr.rf_shortname, count(DISTINCT ut.uploadtree_pk) FROM uploadtree ut"
              " JOIN license_file lf ON lf.pfile_fk = ut.pfile_fk"
              " JOIN license_ref lr ON lr.rf_pk = lf.rf_fk WHERE ut.upload_fk = $1"
              " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 25",
              {up}, [res](const sched::QueryResult& q) { res->license_counts = pairs(q); });
        if (res->copyrights)
          app.db->query(
              "SELECT c.content, count(DISTINCT ut.uploadtree_pk) FROM uploadtree ut"
              " JOIN copyright c ON c.pfile_fk = ut.pfile_fk WHERE ut.upload_fk = $1"
              " AND c.type = 'statement' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20",
              {up}, [res](const sched::QueryResult& q) { res->holders = pairs(q); });
        if (res->mimetypes)
          app.db->query(
              "SELECT m.mimetype_name, count(*) FROM uploadtree ut"
              " JOIN pfile p ON p.pfile_pk = ut.pfile_fk"
              " JOIN mimetype m ON m.mimetype_pk = p.pfile_mimetypefk WHERE ut.upload_fk = $1"
              " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20",
              {up}, [res](const sched::QueryResult& q) { res->types = pairs(q); });
        std::string findings =
            std::string(res->licenses ? ", (SELECT string_agg(DISTINCT lr.rf_shortname, ', ')"
                                        " FROM license_file lf JOIN license_ref lr ON lr.rf_pk ="
                                        " lf.rf_fk WHERE lf.pfile_fk = ut.pfile_fk)"
                                      : ", NULL") +
            (res->copyrights ? ", (SELECT count(*) FROM copyright c WHERE c.pfile_fk = ut.pfile_fk)"
                             : ", NULL") +
            (res->mimetypes ? ", (SELECT m.mimetype_name FROM pfile p JOIN mimetype m ON"
                              " m.mimetype_pk = p.pfile_mimetypefk WHERE p.pfile_pk = ut.pfile_fk)"
                            : ", NULL");
        app.db->query(
            "SELECT ut.uploadtree_pk, ut.ufile_name, (SELECT count(*) FROM uploadtree k WHERE"
            " k.parent = ut.uploadtree_pk)" +
                findings +
                " FROM uploadtree ut WHERE ut.upload_fk = $1 AND ut.parent IS NOT DISTINCT FROM"
                " $2::int ORDER BY ut.ufile_name LIMIT 1000",
            {up, parent == 0 ? std::nullopt : std::optional<std::string>(std::to_string(parent))},
            [req, res, upload, parent](const sched::QueryResult& q) {
              if (!q.ok()) return req->error(503, "database: " + q.error());
              std::string rows;
              for (int i = 0; i < q.rows(); ++i) {
                long long kids = q.get_long(i, 2);
                std::string name = esc(q.get(i, 1));
                if (kids > 0)
                  name = fmt::format("<a href=\"/upload/{}?item={}\">{}/</a>", upload,
                                     q.get_long(i, 0), name);
                rows += fmt::format(
                    "<tr><td class=\"file\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", name,
                    esc(q.get(i, 3)), esc(q.get(i, 4)), esc(q.get(i, 5)));
              }
              std::string body = fmt::format("<p>{} · <code>{}</code></p>", esc(res->upload_name),
                                             esc(res->upload_path));
              body += "<h2>Licenses</h2>";
              body += res->licenses ? svg_chart(res->license_counts)
                                    : "<p>The license tables are not installed.</p>";
              body += "<h2>Top copyright holders</h2>";
              body += res->copyrights ? count_table("Statement", res->holders)
                                      : "<p>The copyright table is not installed.</p>";
              body += "<h2>Mime types</h2>";
              body += res->mimetypes ? count_table("Mime type", res->types)
                                     : "<p>The mimetype table is not installed.</p>";
              body += "<h2>Files</h2>";
              if (parent != 0) body += fmt::format("<p><a href=\"/upload/{}\">top</a></p>", upload);
              body +=
                  "<table class=\"files\"><thead><tr><th>Name</th><th>Licenses</th>"
                  "<th>Copyrights</th><th>Mime type</th></tr></thead><tbody>" +
                  (rows.empty() ? "<tr><td colspan=\"4\">No files.</td></tr>" : rows) +
                  "</tbody></table>";
              req->html(200, page_begin(fmt::format("Upload {}", upload), "") + body + page_end());
            });
      });
}

}  // namespace web
