"""Seed 002's FashionMNIST script, with one import changed: ``nn.LSTM`` -> ``lstmkit.nn.LSTM``.

The model, hyperparameters, training loop and test loop are the seed's own, line for line (the
seed's comments translated). What differs:

* ``--lstm torch`` keeps ``nn.LSTM``; ``--lstm lstmkit`` (the default) swaps in
  ``lstmkit.nn.LSTM`` with the seed's own arguments; ``--cell layernorm`` (or any lstmkit cell)
  adds ``cell=``;
* the data: torchvision's FashionMNIST when torchvision is installed, else the same IDX files
  read by lstmkit (``apt-get install dataset-fashion-mnist``, ``$LSTMKIT_DATA``, or see
  ``lstmkit train classify --help``), scaled to [0, 1] as ``transforms.ToTensor()`` does;
* a seed, an epoch count, a step limit (for quick checks) and a JSON summary (``--out``).

Run: ``.venv/bin/python examples/seed_002_fashion_mnist.py [--lstm torch] [--cell layernorm]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn

import lstmkit.nn

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--lstm", choices=["torch", "lstmkit"], default="lstmkit")
parser.add_argument("--cell", default=None, help="an lstmkit cell (lstmkit.nn.LSTM's cell=)")
parser.add_argument("--epochs", type=int, default=5, help="the seed's num_epochs (5)")
parser.add_argument("--max-steps", type=int, default=None, help="stop each epoch early")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default=None, help="write a JSON summary here")
args = parser.parse_args()
if args.cell and args.lstm == "torch":
    parser.error("--cell needs --lstm lstmkit (torch.nn.LSTM has one cell)")
torch.manual_seed(args.seed)
LSTM_LAYER = nn.LSTM if args.lstm == "torch" else lstmkit.nn.LSTM
CELL = {"cell": args.cell} if args.cell else {}

# Use the GPU when one is available, else the CPU
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


# Define the LSTM model
class LSTM(nn.Module):
    def __init__(self, input_size, hidden_size, num_layers, num_classes):
        super(LSTM, self).__init__()  # noqa: UP008 (the seed's line)
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.lstm = LSTM_LAYER(input_size, hidden_size, num_layers, batch_first=True, **CELL)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        # Initial hidden and cell states
        h0 = torch.zeros(self.num_layers, x.size(0), self.hidden_size).to(device)
        c0 = torch.zeros(self.num_layers, x.size(0), self.hidden_size).to(device)

        # Forward through the LSTM
        out, _ = self.lstm(x, (h0, c0))

        # The last time step's output
        out = self.fc(out[:, -1, :])
        return out


# Hyperparameters
input_size = 28
hidden_size = 128
num_layers = 2
num_classes = 10
batch_size = 100
num_epochs = args.epochs


def fashion_mnist(train: bool):
    """torchvision's FashionMNIST if installed, else the same files through lstmkit."""
    try:
        import torchvision
        import torchvision.transforms as transforms
    except ImportError:
        from lstmkit.data.builtin import IDX_FILES, find_idx_dir
        from lstmkit.data.idx import read_idx

        folder = find_idx_dir("fashion-mnist", None)
        images, labels = IDX_FILES["train" if train else "test"]
        x = torch.from_numpy(read_idx(folder / images).astype(np.float32) / 255.0)
        y = torch.from_numpy(read_idx(folder / labels).astype(np.int64))
        return torch.utils.data.TensorDataset(x[:, None], y)  # (N, 1, 28, 28) as ToTensor
    return torchvision.datasets.FashionMNIST(
        root="./data", train=train, transform=transforms.ToTensor(), download=True
    )


# Load FashionMNIST
train_dataset = fashion_mnist(train=True)
test_dataset = fashion_mnist(train=False)

# Data loaders
train_loader = torch.utils.data.DataLoader(
    dataset=train_dataset, batch_size=batch_size, shuffle=True
)

test_loader = torch.utils.data.DataLoader(
    dataset=test_dataset, batch_size=batch_size, shuffle=False
)

# Build the model and move it to the GPU (when available)
model = LSTM(input_size, hidden_size, num_layers, num_classes).to(device)

# Loss and optimiser
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.001)

# Train the model
total_step = len(train_loader)
start = time.perf_counter()
for epoch in range(num_epochs):
    for i, (images, labels) in enumerate(train_loader):
        if args.max_steps is not None and i >= args.max_steps:
            break
        # Move the images to the GPU (when available)
        images = images.reshape(-1, 28, 28).to(device)
        labels = labels.to(device)

        # Forward pass
        outputs = model(images)
        loss = criterion(outputs, labels)

        # Backward pass and optimiser step
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        # Print every 100 batches
        if (i + 1) % 100 == 0:
            print(
                "Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}".format(  # noqa: UP032
                    epoch + 1, num_epochs, i + 1, total_step, loss.item()
                )
            )
train_seconds = time.perf_counter() - start

# Test the model
with torch.no_grad():
    correct = 0
    total = 0
    for images, labels in test_loader:
        # Move the images to the GPU (when available)
        images = images.reshape(-1, 28, 28).to(device)
        labels = labels.to(device)

        # Forward pass
        outputs = model(images)
        _, predicted = torch.max(outputs.data, 1)

        # Count the correct predictions and the samples
        total += labels.size(0)
        correct += (predicted == labels).sum().item()

    print("Accuracy of the model on the test images: {} %".format(100 * correct / total))  # noqa: UP032

if args.out:
    summary = {
        "lstm": f"{LSTM_LAYER.__module__}.{LSTM_LAYER.__name__}",
        "cell": args.cell or "lstm",
        "seed": args.seed,
        "epochs": num_epochs,
        "max_steps": args.max_steps,
        "test_accuracy": correct / total,
        "train_seconds": round(train_seconds, 1),
        "threads": torch.get_num_threads(),
    }
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
