// NumPy .npy reading and writing (see npy.h).
#include "core/model/npy.h"

#include <fstream>
#include <sstream>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/model/runtime.h"

namespace layerscope::core {

void writeNpy(const std::filesystem::path& path, const torch::Tensor& tensor) {
  torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
  std::string descr;
  switch (t.scalar_type()) {
    case torch::kFloat32: descr = "<f4"; break;
    case torch::kFloat64: descr = "<f8"; break;
    case torch::kInt64: descr = "<i8"; break;
    default: t = t.to(torch::kFloat32), descr = "<f4";
  }
  std::ostringstream shape;
  shape << "(";
  for (int64_t i = 0; i < t.dim(); ++i) shape << t.size(i) << (t.dim() == 1 || i + 1 < t.dim() ? "," : "");
  shape << ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape.str() + ", }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  writeFileAtomically(path, [&](std::ostream& out) {
    out.write("\x93NUMPY\x01\x00", 8);
    const uint16_t n = uint16_t(header.size());
    const char len[2] = {char(n & 0xff), char(n >> 8)};
    out.write(len, 2);
    out.write(header.data(), std::streamsize(header.size()));
    out.write(static_cast<const char*>(t.data_ptr()), std::streamsize(t.numel() * t.element_size()));
  });
}

torch::Tensor readNpy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open");
  char magic[8];
  in.read(magic, 8);
  if (!in || std::string(magic, 6) != "\x93NUMPY") throw Error(path.string() + ": not a .npy file");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    unsigned char l[2];
    in.read(reinterpret_cast<char*>(l), 2);
    hlen = l[0] | (l[1] << 8);
  } else {
    unsigned char l[4];
    in.read(reinterpret_cast<char*>(l), 4);
    hlen = l[0] | (l[1] << 8) | (l[2] << 16) | (uint32_t(l[3]) << 24);
  }
  std::string header(hlen, '\0');
  in.read(header.data(), hlen);
  if (!in) throw Error(path.string() + ": truncated header");
  torch::ScalarType type;
  if (header.find("'<f4'") != std::string::npos) type = torch::kFloat32;
  else if (header.find("'<f8'") != std::string::npos) type = torch::kFloat64;
  else if (header.find("'<i8'") != std::string::npos) type = torch::kInt64;
  else throw Error(path.string() + ": unsupported dtype in header " + header);
  if (header.find("'fortran_order': False") == std::string::npos) throw Error(path.string() + ": Fortran order not supported");
  auto s = header.find("'shape': (");
  auto e = header.find(')', s);
  if (s == std::string::npos || e == std::string::npos) throw Error(path.string() + ": no shape in header");
  std::vector<int64_t> shape;
  std::string dims = header.substr(s + 10, e - s - 10);
  std::stringstream ss(dims);
  std::string item;
  while (std::getline(ss, item, ','))
    if (item.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(item));
  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(type).device(hostDevice()));  // file bytes land on the host
  in.read(static_cast<char*>(t.data_ptr()), std::streamsize(t.numel() * t.element_size()));
  if (!in) throw Error(path.string() + ": truncated data");
  return t;
}

}  // namespace layerscope::core
