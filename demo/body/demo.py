"""Body demo: ``cd demo/body && python demo.py --gpu 0`` (or ``python demo/body/demo.py``).

Writes the mesh, its renders over the crop and the image, and the parameters; without a box
the person detector finds everyone (images, folders, videos). See
``python demo.py --help`` and ``main/demo_cli.py``.
"""

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from main.demo_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("body", default_output_dir=osp.dirname(osp.abspath(__file__))))
