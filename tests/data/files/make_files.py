#!/usr/bin/env python3
"""Writes the small files of README.md the way people save them (numpy and the standard library
only; fixed seeds), byte for byte the same on every run except where a writer stamps the time
(zip entries carry a date; the tests never read it)."""
import gzip
import os
import pickle
import zipfile

import numpy as np

os.chdir(os.path.dirname(os.path.abspath(__file__)))
rng = np.random.default_rng(21)

# A table of 40 rows: 3 features, the third an offset copy of the first, and a class.
X = rng.normal(size=(40, 3)).astype(np.float32)
X[:, 2] = X[:, 0] + 10
y = (X[:, 0] > 0).astype(np.int64)

np.savez("one_array.npz", X)                       # the only array, named arr_0
np.savez_compressed("compressed.npz", features=X)  # deflate
np.savez("two_arrays.npz", features=X, labels=y)

# What scipy.sparse.save_npz writes for a CSR matrix (scipy itself is not needed to make it).
dense = np.where(X > 1, X, 0).astype(np.float64)
indptr, indices, data = [0], [], []
for row in dense:
    nz = np.nonzero(row)[0]
    indices += nz.tolist()
    data += row[nz].tolist()
    indptr.append(len(indices))
np.savez_compressed("sparse.npz", indices=np.array(indices, np.int32),
                    indptr=np.array(indptr, np.int32), format=np.array(b"csr"),
                    shape=np.array(dense.shape), data=np.array(data))

# 24 colour pictures of 6x5 pixels, channels last (N, H, W, C): a bright square in one channel.
img = rng.uniform(0, 0.2, size=(24, 6, 5, 3)).astype(np.float32)
for i in range(24):
    img[i, 1:4, 1:3, i % 3] = 1.0
np.save("pictures_nhwc.npy", img)
np.savez_compressed("pictures_nhwc.npz", images=img)


def text_table(delim, decimal=".", header=True, newline="\n"):
    lines = [delim.join(["a", "b", "c", "label"])] if header else []
    for row, k in zip(X, y):
        vals = [("%.5f" % v).replace(".", decimal) for v in row]
        lines.append(delim.join(vals + [str(k)]))
    return newline.join(lines) + newline


def write(name, text):
    with open(name, "w", newline="") as f:
        f.write(text)


write("semicolon.csv", text_table(";"))
write("tabs.tsv", text_table("\t"))
write("pipes.txt", text_table("|"))
write("decimal_comma.csv", text_table(";", decimal=","))  # what Excel saves in much of Europe
write("mac_cr.csv", text_table(",", newline="\r"))          # old Mac Excel: CR line ends
# One column of decimal-comma numbers under a one-word header: with ',' as the delimiter each row
# has two fields, the header one.
write("one_column_decimal_comma.csv",
      "value\n" + "".join(("%.5f" % v).replace(".", ",") + "\n" for v in X[:, 0]))

# Files ae does not read, as their writers start them (only the first bytes matter).
with open("table.parquet", "wb") as f:  # Parquet: PAR1 at both ends
    f.write(b"PAR1" + bytes(64) + b"PAR1")
with open("table.h5", "wb") as f:       # HDF5's signature
    f.write(b"\x89HDF\r\n\x1a\n" + bytes(64))
with open("table.feather", "wb") as f:  # Feather v2 / Arrow IPC file
    f.write(b"ARROW1\x00\x00" + bytes(64) + b"ARROW1")
with open("table.pkl", "wb") as f:
    pickle.dump(X.tolist(), f, protocol=4)
with zipfile.ZipFile("table.xlsx", "w") as z:  # an Excel workbook is a zip of XML parts
    z.writestr("[Content_Types].xml", "<Types/>")
    z.writestr("xl/workbook.xml", "<workbook/>")
with open("table.gz", "wb") as f:  # gzip of something that is neither text nor a known format
    f.write(gzip.compress(bytes(range(256)) * 4, mtime=0))
print("ok")
