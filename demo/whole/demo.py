"""All-parts demo: ``cd demo/whole && python demo.py --img photo.jpg`` (or a folder or a video).

Body, both hands and face of everyone the person detector finds, composited over the image;
see ``python demo.py --help`` and ``main/whole_demo.py``.
"""

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from main.whole_demo import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(default_output_dir=osp.dirname(osp.abspath(__file__))))
